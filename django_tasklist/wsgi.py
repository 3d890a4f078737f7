"""WSGI entry point: ``gunicorn django_tasklist.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_tasklist.settings")
django_application = get_wsgi_application()

from mc_tasklist.page_hits import CachedPageHits  # noqa: E402 - after Django is set up

# Warm page hits are answered before Django's request machinery (mc_tasklist/page_hits.py).
application = CachedPageHits(django_application)
