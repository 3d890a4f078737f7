"""The tutorial's settings: `startproject`'s middleware without CSRF, routes of its own."""

from bench.floor_settings import *  # noqa: F403
from bench.floor_settings import MIDDLEWARE

ROOT_URLCONF = "bench.tutorial.urls"
# "For the sake of learning how to use Django's integrated caching we will disable Django's CSRF middleware."
MIDDLEWARE = [entry for entry in MIDDLEWARE if entry != "django.middleware.csrf.CsrfViewMiddleware"]
