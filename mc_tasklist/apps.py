from django.apps import AppConfig


class McTasklistConfig(AppConfig):
    name = "mc_tasklist"
    verbose_name = "Task list"

    def ready(self):
        from mc_tasklist import checks  # noqa: F401  (registers the start-up check of its settings)
