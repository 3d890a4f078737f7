"""The older pages' own counter in TaskCount, kept by the triggers; the invalidation outbox goes.

Caches are now named by the versions this row holds (mc_tasklist/caching/), so no
write has to reach every process: the outbox and its LISTEN/NOTIFY protocol are
dropped. ``older_pages`` moves with a delete, a rename, a TRUNCATE, and an add
that lands below a task that already exists (two adds that commit out of
order); an add on top of the list leaves it, and with it every older page's
cache entry, alone.
"""

from django.db import migrations, models

POSTGRESQL_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION mc_tasklist_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change bigint;
    older bigint := 1;
    lowest bigint;
    highest bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE mc_tasklist_taskcount SET tasks = 0, version = version + 1, older_pages = older_pages + 1;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO change FROM changed_rows;
        older := 0;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO change FROM changed_rows;
    ELSE  -- UPDATE
        change := 0;
    END IF;
    -- First the row lock, which orders the writes: any other write holding it has committed once it is ours.
    INSERT INTO mc_tasklist_taskcount (id, tasks, version, older_pages) VALUES (1, change, 1, older)
        ON CONFLICT (id) DO UPDATE
        SET tasks = mc_tasklist_taskcount.tasks + excluded.tasks, version = mc_tasklist_taskcount.version + 1,
            older_pages = mc_tasklist_taskcount.older_pages + excluded.older_pages;
    -- Then, in a snapshot that sees those writes: did an add land below a task that was already there?
    -- The table's newest id comes from the index whatever the planner's statistics say (right after a bulk
    -- load they say the table is empty, and a range count was planned as a scan of a million rows: 60 ms an
    -- add). Above the whole insert, it is an older task; one row that is the newest is on top; only a bulk
    -- insert under the newest task needs counting. (Nested IFs: an UPDATE has no changed_rows.)
    IF TG_OP = 'INSERT' THEN
        SELECT min(id), max(id) INTO lowest, highest FROM changed_rows;
        IF (SELECT max(id) FROM mc_tasklist_task) > highest
            OR (lowest < highest AND (SELECT count(*) FROM mc_tasklist_task WHERE id > lowest)
                                     > (SELECT count(*) FROM changed_rows WHERE id > lowest)) THEN
            UPDATE mc_tasklist_taskcount SET older_pages = older_pages + 1 WHERE id = 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""
POSTGRESQL_PREVIOUS_FUNCTION = """
CREATE OR REPLACE FUNCTION mc_tasklist_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO change FROM changed_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO change FROM changed_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        change := 0;
    ELSE  -- TRUNCATE
        UPDATE mc_tasklist_taskcount SET tasks = 0, version = version + 1;
        RETURN NULL;
    END IF;
    INSERT INTO mc_tasklist_taskcount (id, tasks, version) VALUES (1, change, 1)
        ON CONFLICT (id) DO UPDATE
        SET tasks = mc_tasklist_taskcount.tasks + excluded.tasks, version = mc_tasklist_taskcount.version + 1;
    RETURN NULL;
END
$$;
"""


SQLITE_TRIGGERS = ("inserted", "deleted", "updated")


def _sqlite_triggers(older_pages: bool) -> list[str]:
    """SQLite (development) has neither statement triggers nor TRUNCATE: one row at a time."""
    moves = {
        "inserted": ("INSERT", 1, "EXISTS (SELECT 1 FROM mc_tasklist_task WHERE id > NEW.id)"),
        "deleted": ("DELETE", -1, "1"),
        "updated": ("UPDATE", 0, "1"),
    }
    statements = []
    for name, (event, change, older) in moves.items():
        columns, values, older_set = "id, tasks, version", f"1, {change}, 1", ""
        if older_pages:
            columns, values = columns + ", older_pages", values + f", {older}"
            older_set = ", older_pages = older_pages + excluded.older_pages"
        statements.append(
            f"""CREATE TRIGGER mc_tasklist_task_{name} AFTER {event} ON mc_tasklist_task BEGIN
            INSERT INTO mc_tasklist_taskcount ({columns}) VALUES ({values})
                ON CONFLICT (id) DO UPDATE SET tasks = tasks + excluded.tasks, version = version + 1{older_set};
        END"""
        )
    return statements


def _on_sqlite(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements() if callable(statements) else statements:
                schema_editor.execute(statement)

    return run


# SQLite rebuilds a table to add a column, and refuses while another table's triggers name it.
drop_sqlite_triggers = _on_sqlite([f"DROP TRIGGER mc_tasklist_task_{name}" for name in SQLITE_TRIGGERS])


def count_older_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_TRIGGER_FUNCTION)
    _on_sqlite(lambda: _sqlite_triggers(older_pages=True))(apps, schema_editor)


def stop_counting_older_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_PREVIOUS_FUNCTION)
    drop_sqlite_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("mc_tasklist", "0005_task_name_rules"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, _on_sqlite(lambda: _sqlite_triggers(older_pages=False))),
        migrations.AddField(model_name="taskcount", name="older_pages", field=models.BigIntegerField(default=0)),
        migrations.RunPython(count_older_pages, stop_counting_older_pages),
        migrations.DeleteModel(name="UnconfirmedInvalidation"),
    ]
