"""gunicorn settings, read by `gunicorn django_tasklist.wsgi` from the working directory."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
# gunicorn's control socket (for gunicornc), one per instance: by default every instance on a
# machine would take the same path, and the last one started wins. Named by the master's process
# id, which this file is read in: a name from $PORT was shared by instances started with -b.
control_socket = os.path.expanduser(f"~/.gunicorn/gunicorn-{os.getpid()}.ctl")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not one request per process: a client that sends its headers slowly holds whatever
# reads them until it is done. Two such clients stall two sync workers; here they hold two of
# each worker's 16 threads (tested: django_tasklist/tests/test_gunicorn.py). The threads share a
# small pool of database connections (DATABASE_POOL_SIZE, settings.py). A buffering proxy in front (App
# Platform's edge, nginx in make stack) absorbs slow clients before they reach gunicorn at all.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Heartbeat files in memory: App Platform's disk can stall the workers' heartbeat.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
# gunicorn's default format without %(u)s, the Basic-auth user: it is decoded from base64 and
# may hold a line break, which would forge a line of the log.
access_log_format = '%(h)s %(l)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
timeout = 30
graceful_timeout = 10


def on_starting(server):
    """Refuse to start with a misconfigured cache, rather than fail on the first request."""
    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_tasklist.settings")
    django.setup()
    call_command("check", tags=["caches"])


def post_worker_init(worker):
    """Start each worker's one background thread, the stats flusher (mc_tasklist/stats.py): a thread does
    not survive gunicorn's fork. Not in the benchmark's bare-WSGI floor."""
    if worker.app.app_uri != "django_tasklist.wsgi":
        return
    from mc_tasklist import stats

    stats.flusher.start()
