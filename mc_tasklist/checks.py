"""The task list's own settings, checked at start (manage.py commands; gunicorn's on_starting)."""

from django.conf import settings
from django.core import checks

from mc_tasklist.caching import keys


@checks.register(checks.Tags.caches)
def caching_settings(app_configs=None, **kwargs):
    problems = []
    if unknown := set(settings.TASKLIST_CACHE_LAYERS) - set(keys.LAYERS):
        problems.append(
            checks.Error(
                f"TASKLIST_CACHE_LAYERS has unknown layers: {sorted(unknown)}",
                hint=f"Choose among {', '.join(keys.LAYERS)}.",
                id="mc_tasklist.E001",
            )
        )
    return problems
