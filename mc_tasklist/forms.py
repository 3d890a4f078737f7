from django import forms

from mc_tasklist.models import Task

# PostgreSQL's bigint: a larger id cannot name a task, and would fail in the query.
MAX_TASK_ID = 2**63 - 1


class TaskForm(forms.Form):
    # CharField strips whitespace and rejects NUL characters, which PostgreSQL cannot store.
    name = forms.CharField(
        max_length=Task.NAME_MAX_LENGTH,
        error_messages={
            "required": "Enter a task name.",
            "max_length": "A task name can be at most %(limit_value)d characters (it has %(show_value)d).",
        },
    )


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
