from django import forms

from mc_tasklist.models import Task

# PostgreSQL's bigint: a larger id cannot name a task, and would fail in the query.
MAX_TASK_ID = 2**63 - 1


class TaskForm(forms.ModelForm):
    """A task's name, held to the task's own rules (models.Task.name); the admin uses this form too.

    Its CharField strips whitespace and rejects NUL characters, which PostgreSQL cannot store.
    """

    class Meta:
        model = Task
        fields = ["name"]
        error_messages = {"name": Task.NAME_MESSAGES}


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
