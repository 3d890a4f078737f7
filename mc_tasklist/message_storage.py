"""Flash messages ("Added ...") in a signed cookie, as Django's CookieStorage keeps them, with two changes.

* In production the cookie carries the ``__Host-`` prefix, as the session and CSRF
  cookies do (settings.py): browsers then accept it only over HTTPS, for this host
  alone, so a sibling subdomain cannot plant or shadow a message. Its other
  attributes are already theirs (Secure, HttpOnly, SameSite=Lax, Path=/).
* No response deletes a cookie the request did not send: Django's storage answered
  every page that showed messages, including every list page, with
  ``Set-Cookie: messages=""; Max-Age=0``.
"""

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage


class VisitorMessageCookie(CookieStorage):
    @property
    def cookie_name(self):
        return settings.TASKLIST_MESSAGES_COOKIE_NAME

    def _store(self, messages, response, *args, **kwargs):
        if not messages and self.cookie_name not in self.request.COOKIES:
            return []  # nothing to store, and nothing to delete
        return super()._store(messages, response, *args, **kwargs)
