"""WSGI entry point: ``gunicorn django_tasklist.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_tasklist.settings")

application = get_wsgi_application()

# Each worker imports this module after gunicorn forks it: the one place that
# starts the per-process background work (a thread does not survive a fork).
from mc_tasklist import stats  # noqa: E402  (needs the app registry that get_wsgi_application sets up)
from mc_tasklist.caching import watcher  # noqa: E402

stats.start_flusher()
watcher.start()
