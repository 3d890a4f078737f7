import os

from django.http import HttpResponse
from django.urls import path

from django_tasklist.urls import urlpatterns as app_urlpatterns

# As many bytes as the list page the benchmark measures.
FLOOR_BODY = b"x" * int(os.environ.get("BENCH_FLOOR_BYTES", "4096"))


def floor(request):
    """The least a Django view can do: a constant response, through the app's whole middleware stack."""
    return HttpResponse(FLOOR_BODY)


urlpatterns = [*app_urlpatterns, path("bench/floor", floor)]
