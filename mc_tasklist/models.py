from django.db import models


class Task(models.Model):
    NAME_MAX_LENGTH = 200

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name


class UnconfirmedInvalidation(models.Model):
    """A committed change to the list that no cache server has confirmed invalidating yet.

    Written in the same transaction as the change (an outbox), so it exists
    exactly when the change does, whatever happens to the writing process next.
    The writer deletes it once the cache confirms; until then every other
    process applies it (see mc_tasklist/caching/watcher.py).
    """

    # How many pages of the list the change could have shifted: each page's entries go.
    pages = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"list change {self.id} ({self.pages} pages) at {self.created_at:%H:%M:%S.%f}"
