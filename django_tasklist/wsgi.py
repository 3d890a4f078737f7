"""WSGI entry point: ``gunicorn django_tasklist.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_tasklist.settings")

application = get_wsgi_application()
