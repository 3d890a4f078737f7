from django.urls import path

from bench.tutorial import views

urlpatterns = [path("", views.index), path("add", views.add), path("remove", views.remove)]
