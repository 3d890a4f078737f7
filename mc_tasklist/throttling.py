"""A limit on anonymous writes per client, so that one client cannot flood the list.

Counted in the cache, per client and per minute (a fixed window: simple, and one
``incr`` per write). When the cache cannot count, writes are allowed: the limit
protects the list from a flood, and a down cache must not stop everyone writing.
Staff and other logged-in users are not limited.
"""

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

from mc_tasklist.caching import keys
from mc_tasklist.clients import client_address


def limit_anonymous_writes(view):
    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        retry_after = _seconds_until_allowed(request)
        if retry_after:
            response = render(
                request,
                "mc_tasklist/too_many_writes.html",
                {"limit": settings.TASKLIST_ANON_WRITES_PER_MINUTE, "retry_after": retry_after},
                status=429,
            )
            response["Retry-After"] = str(retry_after)
            return response
        return view(request, *args, **kwargs)

    return limited


def _seconds_until_allowed(request) -> int:
    """0 if this write may go ahead, else how long until the client's window ends."""
    limit = settings.TASKLIST_ANON_WRITES_PER_MINUTE
    if not limit or request.user.is_authenticated:
        return 0
    now = time.time()
    window = int(now // keys.WRITE_LIMIT_WINDOW_SECONDS)
    key = keys.write_limit_key(client_address(request), window)
    if cache.add(key, 1, keys.WRITE_LIMIT_WINDOW_SECONDS + 5):
        return 0
    try:
        count = cache.incr(key)
    except ValueError:
        return 0  # The cache could not count (down, or the window just expired).
    if count <= limit:
        return 0
    return max(1, int((window + 1) * keys.WRITE_LIMIT_WINDOW_SECONDS - now + 1))
