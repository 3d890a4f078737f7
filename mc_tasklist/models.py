import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models

# Marks that reorder the text around them without being seen: with them "txt.exe" can be shown
# as "exe.txt", and a name can run its direction into the rest of the page.
DIRECTION_MARKS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Categories that show nothing by themselves: separators, format characters such as
# zero-width spaces, combining marks with nothing to combine with, unassigned and private code points.
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cf", "Mn", "Me", "Cn", "Co"})


def name_problem(name: str) -> str | None:
    """Why a (stripped) task name cannot be stored as typed, or None.

    Refused, not silently cleaned: the person sees what was wrong and retypes
    it, and what is stored is always what they typed. Joiners inside a name
    (emoji sequences, some scripts) are allowed; names made only of them are not.
    """
    for character in name:
        if unicodedata.category(character) == "Cc" or character in DIRECTION_MARKS:
            return (
                "A task name cannot contain control characters or text-direction marks "
                f"(it has U+{ord(character):04X})."
            )
    if all(unicodedata.category(character) in INVISIBLE_CATEGORIES for character in name):
        return "Enter a task name: this one has no visible character."
    return None


def validate_task_name(name: str) -> None:
    if problem := name_problem(name):
        raise ValidationError(problem, code="invisible_or_control")


class Task(models.Model):
    NAME_MAX_LENGTH = 200
    NAME_MESSAGES = {
        "required": "Enter a task name.",
        "blank": "Enter a task name.",
        "max_length": "A task name can be at most %(limit_value)d characters (it has %(show_value)d).",
    }

    # What a task's name may be, for every way in: the public form, the admin, the services.
    # (PostgreSQL cannot store a NUL; a form refuses it before these run, a service caller here.)
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[ProhibitNullCharactersValidator(), validate_task_name],
        error_messages=NAME_MESSAGES,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Newest first, as the list shows them (and as the admin then does too).
        ordering = ["-id"]

    def __str__(self):
        return self.name


class TaskCount(models.Model):
    """How many tasks there are, and the list's versions: one row, kept by database triggers in each
    write's own transaction.

    COUNT(*) reads every row (tens of milliseconds at a million tasks); this is
    one row read at any size. Every write to the tasks moves ``version`` by one,
    in commit order (the write holds this row's lock until it commits), so the
    version names exactly one state of the list: the caches key the first page
    by it (mc_tasklist/caching/). ``older_pages`` moves only with what can change
    a page past the first: a delete, a rename, an add that lands below a newer
    task; an add on top leaves those pages cached. Triggers, not the services,
    keep the row, so that no way of writing tasks can leave it wrong: the admin,
    a bulk insert, a TRUNCATE, a migration (migrations 0004 and 0006).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    tasks = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)
    older_pages = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.tasks} tasks"


class SharedCounter(models.Model):
    """One of the app's counters (mc_tasklist/stats.py), summed over every process that flushed into it.

    Kept in the database, not in the cache they count: reading them for the
    dashboard or /metrics costs the cache nothing, so looking does not move
    the hit rates shown, and a cache flush or restart does not zero them.
    """

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.name} = {self.value}"


class CacheServerSample(models.Model):
    """The cache servers' totals at one minute, for the dashboard's chart of the last hour."""

    minute = models.BigIntegerField(primary_key=True, help_text="Minutes since the Unix epoch")
    get_hits = models.BigIntegerField()
    get_misses = models.BigIntegerField()
    bytes = models.BigIntegerField()
    limit_maxbytes = models.BigIntegerField()

    class Meta:
        ordering = ["minute"]

    def __str__(self):
        return f"cache servers at minute {self.minute}"
