"""The task count and the list's version as one row kept by triggers, and what an unconfirmed change can reach.

Every write to the tasks moves the version by one. The write holds the row's
lock until it commits, so versions follow commit order: a cached first page
that knows its version is newer or older than another for certain.

The triggers upsert rather than update, so that the row comes back right
after anything that empties both tables at once (Django's test flush
truncates every table).
"""

from django.db import migrations, models

POSTGRESQL_TRIGGERS = """
CREATE FUNCTION mc_tasklist_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER mc_tasklist_task_inserted AFTER INSERT ON mc_tasklist_task
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION mc_tasklist_count_tasks();
CREATE TRIGGER mc_tasklist_task_deleted AFTER DELETE ON mc_tasklist_task
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION mc_tasklist_count_tasks();
CREATE TRIGGER mc_tasklist_task_updated AFTER UPDATE ON mc_tasklist_task
    FOR EACH STATEMENT EXECUTE FUNCTION mc_tasklist_count_tasks();
CREATE TRIGGER mc_tasklist_task_truncated AFTER TRUNCATE ON mc_tasklist_task
    FOR EACH STATEMENT EXECUTE FUNCTION mc_tasklist_count_tasks();
"""
POSTGRESQL_DROP = """
DROP TRIGGER mc_tasklist_task_inserted ON mc_tasklist_task;
DROP TRIGGER mc_tasklist_task_deleted ON mc_tasklist_task;
DROP TRIGGER mc_tasklist_task_updated ON mc_tasklist_task;
DROP TRIGGER mc_tasklist_task_truncated ON mc_tasklist_task;
DROP FUNCTION mc_tasklist_count_tasks();
"""
# SQLite (development) has neither statement triggers nor TRUNCATE: one row at a time.
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER mc_tasklist_task_{name} AFTER {event} ON mc_tasklist_task BEGIN
        INSERT INTO mc_tasklist_taskcount (id, tasks, version) VALUES (1, {change}, 1)
            ON CONFLICT (id) DO UPDATE SET tasks = tasks + excluded.tasks, version = version + 1;
    END"""
    for name, event, change in (("inserted", "INSERT", 1), ("deleted", "DELETE", -1), ("updated", "UPDATE", 0))
]
SQLITE_DROP = [f"DROP TRIGGER mc_tasklist_task_{name}" for name in ("inserted", "deleted", "updated")]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = [POSTGRESQL_TRIGGERS]
    else:
        statements = SQLITE_TRIGGERS
    for statement in statements:
        schema_editor.execute(statement)
    # The tasks that exist already.
    schema_editor.execute(
        "INSERT INTO mc_tasklist_taskcount (id, tasks, version) SELECT 1, count(*), 1 FROM mc_tasklist_task"
    )


def drop_triggers(apps, schema_editor):
    for statement in [POSTGRESQL_DROP] if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("mc_tasklist", "0003_shared_counters_and_samples"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskCount",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("tasks", models.BigIntegerField(default=0)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.AlterModelOptions(name="task", options={"ordering": ["-id"]}),
        migrations.RemoveField(model_name="unconfirmedinvalidation", name="pages"),
        migrations.AddField(
            model_name="unconfirmedinvalidation",
            name="older_pages",
            field=models.BooleanField(default=True),
            preserve_default=False,
        ),
    ]
