"""Free ports and waiting for a server to listen: the cache package's test helpers serve here too."""

from sasl_memcached.testing import free_port, wait_for_port

__all__ = ["free_port", "wait_for_port"]
