import time

from django.conf import settings

from mc_tasklist.models import Task


def task_list() -> list[dict]:
    """Every task, oldest first, as plain dicts: the value the query layer caches.

    Plain values, not a QuerySet: a pickled QuerySet is tied to Django's
    internals and may not load after an upgrade, and it re-runs its query.
    """
    if settings.TASKLIST_QUERY_DELAY:
        # The tutorial's stand-in for an expensive query.
        time.sleep(settings.TASKLIST_QUERY_DELAY)
    return list(Task.objects.order_by("id").values("id", "name", "created_at"))
