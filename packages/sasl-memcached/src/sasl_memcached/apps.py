from django.apps import AppConfig


class SaslMemcachedConfig(AppConfig):
    name = "sasl_memcached"
    verbose_name = "memcached with SASL"

    def ready(self):
        from sasl_memcached import checks  # noqa: F401  (registers the start-up check)
