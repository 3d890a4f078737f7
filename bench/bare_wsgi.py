"""The floor under Django: a WSGI app that returns constant bytes, under the same gunicorn."""

import os

BODY = b"x" * int(os.environ.get("BENCH_FLOOR_BYTES", "4096"))
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
