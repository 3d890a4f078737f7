"""The app's production settings plus one route: the benchmark's Django floor."""

from django_tasklist.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
