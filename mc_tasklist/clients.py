"""Who is asking: the client's address, as the proxy in front of the app saw it."""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """The address of the client that connected to the edge.

    Behind App Platform, REMOTE_ADDR is the load balancer's, the same for everyone;
    the platform's edge puts the client's address in a header of its own
    (TASKLIST_CLIENT_IP_HEADER, "DO-Connecting-IP" in the spec) and replaces any such
    header the client sent. X-Forwarded-For is not read unless named: a client can
    write anything into it, and the proxy only adds to it.
    """
    header = settings.TASKLIST_CLIENT_IP_HEADER
    if header:
        value = request.headers.get(header, "").strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass  # Not from the proxy (a direct request, a health probe): its own address.
    return request.META.get("REMOTE_ADDR", "")
