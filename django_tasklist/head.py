"""HEAD answered as HTTP says: the headers a GET would get, and no body.

Django leaves dropping the body to the server; gunicorn drops it too, but logs
a warning for every HEAD request ("WSGI app sent body bytes on a no-body
response"), which floods the log of anyone following the README's `curl -I`.
"""


class HeadWithoutBodyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            # Content-Length (set by CommonMiddleware, further in) keeps the GET's length, as HTTP asks.
            response.content = b""
        return response
