from django.contrib import admin
from django.contrib.staticfiles.storage import staticfiles_storage
from django.shortcuts import redirect
from django.urls import path

from mc_tasklist import dashboard, metrics, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("add", views.add, name="add"),
    path("remove", views.remove, name="remove"),
    path("", views.index, name="index"),
    path("stats/", dashboard.stats_page, name="stats"),
    path("stats/flush", dashboard.flush_cache, name="stats-flush"),
    path("stats/reset", dashboard.reset_counters, name="stats-reset"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico on pages that name no icon, such as the admin's.
    path("favicon.ico", lambda request: redirect(staticfiles_storage.url("mc_tasklist/favicon.svg"), permanent=True)),
]

handler500 = "django_tasklist.errors.server_error"
handler400 = "django_tasklist.errors.bad_request"
