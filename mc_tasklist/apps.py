from django.apps import AppConfig


class McTasklistConfig(AppConfig):
    name = "mc_tasklist"
    verbose_name = "Task list"
