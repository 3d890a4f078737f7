"""The least Django needs to run the package's tests: each test makes the caches it uses."""

SECRET_KEY = "sasl-memcached-tests-only"
INSTALLED_APPS = ["sasl_memcached"]
CACHES = {"default": {"BACKEND": "sasl_memcached.locmem.LocMemLeaseCache"}}
USE_TZ = True
