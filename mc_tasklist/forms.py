import unicodedata

from django import forms
from django.core.exceptions import ValidationError

from mc_tasklist.models import Task

# PostgreSQL's bigint: a larger id cannot name a task, and would fail in the query.
MAX_TASK_ID = 2**63 - 1


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


class TaskForm(forms.Form):
    # CharField strips whitespace and rejects NUL characters, which PostgreSQL cannot store.
    name = forms.CharField(
        max_length=Task.NAME_MAX_LENGTH,
        error_messages={
            "required": "Enter a task name.",
            "max_length": "A task name can be at most %(limit_value)d characters (it has %(show_value)d).",
        },
    )

    def clean_name(self):
        name = self.cleaned_data["name"]
        if problem := name_problem(name):
            raise ValidationError(problem, code="invisible_or_control")
        return name


class RemoveTaskForm(forms.Form):
    id = forms.IntegerField(
        min_value=1,
        max_value=MAX_TASK_ID,
        error_messages={
            "required": "No task was given to delete.",
            "invalid": "That is not a task id.",
            "min_value": "That is not a task id.",
            "max_value": "That is not a task id.",
        },
    )
