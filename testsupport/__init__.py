"""Real servers for the tests: a SASL memcached, PostgreSQL databases, gunicorn instances."""
