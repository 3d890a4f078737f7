"""A visitor to a running app over real HTTP: its own cookies, a fresh connection per request."""

import http.client
import urllib.parse
from dataclasses import dataclass

from testsupport import pages


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def csrf_tokens(self) -> list[str]:
        return pages.csrf_tokens(self.text)


class Visitor:
    """Behaves like a browser behind App Platform's TLS proxy, with JavaScript off."""

    def __init__(self, port: int, *, timeout: float = 10.0, scheme: str = "https", headers: dict | None = None):
        """``scheme="http"``: a browser talking plain HTTP to a proxy that says so (make stack's nginx).
        ``headers``: sent with every request, as a proxy in front would add them."""
        self.port = port
        self.headers = headers or {}
        self.scheme = scheme
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.last_page: Response | None = None

    def request(
        self, method: str, path: str, form: dict | None = None, headers: dict | None = None, raw_body: str | None = None
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        sent = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": self.scheme,
            "Origin": f"{self.scheme}://127.0.0.1:{self.port}",
            "Connection": "close",
            **self.headers,
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = raw_body
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read().decode())
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            if "max-age=0" in rest.lower():  # deleted, as a browser deletes it
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def get(self, path: str = "/") -> Response:
        response = self.request("GET", path)
        if path == "/":
            self.last_page = response
        return response

    def post(self, path: str, form: dict) -> Response:
        """Submit a form from the last page seen, token included, as a browser would."""
        if self.last_page is None:
            self.get("/")
        token = self.last_page.csrf_tokens()[0]
        return self.request("POST", path, {"csrfmiddlewaretoken": token, **form})


def log_in(visitor: Visitor, username: str, password: str, next_path: str = "/") -> Response:
    """Log in through the admin's login form, as a person would."""
    form = visitor.request("GET", f"/admin/login/?next={next_path}")
    token = form.csrf_tokens()[0]
    response = visitor.request(
        "POST",
        f"/admin/login/?next={next_path}",
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": next_path},
    )
    assert response.status == 302, response.text[:500]
    return response
