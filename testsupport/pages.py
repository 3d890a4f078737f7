"""What a test reads off the task list's HTML: the tasks shown and the CSRF tokens.

One place for the patterns, so a template change is met here and nowhere else.
"""

import html
import re

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_NAME = re.compile(r'<td class="text-break">([^<]*)</td>')
_ROW = re.compile(r'<td class="text-break">(.*?)</td>.*?name="id" value="(\d+)"', re.DOTALL)


def csrf_tokens(page: str) -> list[str]:
    return _TOKEN.findall(page)


def task_names(page: str) -> list[str]:
    """The names in the list, in the order shown, as they appear in the HTML (escaped)."""
    return _NAME.findall(page)


def tasks_shown(page: str) -> dict[int, str]:
    """The tasks a list page shows: id -> name (escaped, as in the HTML)."""
    return {int(task_id): name for name, task_id in _ROW.findall(page)}


def shows_name(page: str, name: str) -> bool:
    """Whether the list shows a task with exactly this (unescaped) name."""
    return f'<td class="text-break">{html.escape(name)}</td>' in page
