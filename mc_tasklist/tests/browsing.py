"""Django's test client, as a browser with JavaScript off uses the app: forms from the page, tokens checked."""

from django.test import Client

from testsupport.pages import csrf_tokens


class Browser(Client):
    """A test client that checks CSRF tokens and submits forms from the page, as a browser does."""

    def __init__(self, **kwargs):
        super().__init__(enforce_csrf_checks=True, **kwargs)

    def token(self) -> str:
        return csrf_tokens(self.get("/").content.decode())[0]

    def submit(self, path: str, data: dict, **kwargs):
        return self.post(path, {"csrfmiddlewaretoken": self.token(), **data}, **kwargs)

    def add(self, name: str, **kwargs):
        return self.submit("/add", {"name": name}, **kwargs)

    def remove(self, task_id, **kwargs):
        return self.submit("/remove", {"id": task_id}, **kwargs)
