from django.contrib import admin
from django.urls import path

from mc_tasklist import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("add", views.add, name="add"),
    path("remove", views.remove, name="remove"),
    path("", views.index, name="index"),
]
