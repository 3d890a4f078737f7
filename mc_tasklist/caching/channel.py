"""What the processes tell each other about changes, through PostgreSQL's LISTEN/NOTIFY.

One channel, four messages:

* ``new <id> <0|1>``: a change committed (sent by the write's own statement, so
  only if it commits; 1: older pages changed too);
* ``done <id>,<id>``: every cache server confirmed these changes;
* ``unconfirmed <id>:<0|1> ...``: the writer could not get these changes
  confirmed (its cache is down, hung, or skipped during its back-off). Every
  process holds them pending at once, so that none reads an entry from before
  them, and tries to apply them;
* ``held <id>,<id>``: a process holds these changes pending: it heard
  ``unconfirmed`` and reads none of their entries until they are confirmed.
  Said by the thread that listens, before any cache is tried, so a hung
  server cannot delay it.

The writer acknowledges a change it could not confirm only once another process
has confirmed it, or every watching process has said it holds the change.
"""

import threading

from django.db import connection

CHANNEL = "tasklist_invalidation"
# The application_name of each watcher's connection: how a writer counts who will answer.
WATCHER_NAME = "tasklist-invalidation-watcher"
# What both ways of recording a change select from its outbox row (a CTE named ``change``):
# the row and its "new" message. The channel is the query's parameter.
ANNOUNCED = "change.id, change.older_pages, pg_notify(%s, concat('new ', change.id, ' ', change.older_pages::int))"

# Set while this process's watcher is listening: only then can it hear the others' answers.
listening = threading.Event()


def ask_for_help(changes: dict[int, bool]) -> int:
    """Say ``unconfirmed``; returns how many watching processes will hear it (this one included)."""
    message = "unconfirmed " + " ".join(f"{change_id}:{int(older)}" for change_id, older in changes.items())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, %s), (SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database())",
            [CHANNEL, message, WATCHER_NAME],
        )
        return cursor.fetchone()[1]


def say_held(listener, change_ids) -> None:
    """On the watcher's own connection (psycopg's, in autocommit): it is the one at hand when the word comes."""
    listener.execute("SELECT pg_notify(%s, %s)", [CHANNEL, _listed("held", change_ids)])


def done_message(change_ids) -> str:
    return _listed("done", change_ids)


def _listed(kind: str, change_ids) -> str:
    return f"{kind} " + ",".join(map(str, change_ids))


def parse(payload: str) -> tuple[str, dict[int, bool]]:
    """A message as (kind, {change id: older pages too}); ``older`` is False where the kind does not say."""
    kind, _, rest = payload.partition(" ")
    if kind == "new":
        change_id, older = map(int, rest.split())
        return kind, {change_id: bool(older)}
    if kind == "unconfirmed":
        return kind, {int(change_id): older == "1" for change_id, older in (c.split(":") for c in rest.split())}
    return kind, dict.fromkeys(map(int, rest.split(",")), False)
