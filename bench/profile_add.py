"""Where an add's time goes: py-spy over one gthread worker while adds (each POST until its redirect) run.

    python -m bench.profile_add [--adds 300] [--tasks 100]

Prints each function's share of the samples taken inside a request (inclusive), the
figure docs/bench.md quotes. Needs py-spy (requirements-bench.txt) and root.
"""

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

from sasl_memcached.testing import SaslMemcached

from testsupport.environment import production_env
from testsupport.gunicorn import GunicornInstance, collectstatic
from testsupport.http import Visitor
from testsupport.postgres import OwnPostgres

# Frames that name a part of the add worth a line in the profile.
PARTS = {
    "connect (psycopg)": "connect (psycopg",
    "close a database connection": "close (django/db/backends/base/base.py",
    "CSRF check": "process_view (django/middleware/csrf.py",
    "form validation": "is_valid (django/forms/forms.py",
    "INSERT the task, committed by itself": "create (django/db/models/query.py",
    "after the commit (all)": "_after_commit (mc_tasklist/caching/invalidation.py",
    "  read the new versions back": "list_versions (mc_tasklist/selectors.py",
    "  store the new version's first page (update)": "store_first_page (mc_tasklist",
    "    read the list (version, count, rows)": "task_page (mc_tasklist/selectors.py",
    "    the rows from the fragment cache": "rows (mc_tasklist/caching/read_through.py",
    "    render the page": "render_list_page (mc_tasklist/rendering.py",
    "  publish the versions": "publish (mc_tasklist/caching/list_version.py",
    "  the commit wait": "sleep",
    "flash message into its cookie": "process_response (django/contrib/messages/middleware.py",
    "waiting on PostgreSQL": "wait (psycopg/connection.py",
}
REQUEST = "__call__ (django/core/handlers/wsgi.py"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adds", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args(argv)
    postgres = OwnPostgres().start()
    memcached = SaslMemcached(memory_mb=64).start()
    instance = None
    raw = Path("/tmp/profile_add.txt")
    try:
        env = production_env(database_url="", memcached=memcached, DJANGO_SETTINGS_MODULE="bench.settings")
        collectstatic(env)
        env["DATABASE_URL"] = postgres.app_database("profile", env)
        postgres.replace_tasks("profile", args.tasks)
        instance = GunicornInstance(env, workers=1).start()
        writer = Visitor(instance.port)
        writer.get("/")
        unprofiled = []
        for n in range(100):
            start = time.perf_counter()
            assert writer.post("/add", {"name": f"timed add {n}"}).status == 302
            unprofiled.append((time.perf_counter() - start) * 1000)
            writer.get("/")  # the redirect, as a browser follows it: its message is shown and cleared
        worker = instance.worker_pids()[0]
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(worker),
                "--rate",
                "250",
                "--nonblocking",
                "--format",
                "raw",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
        started = time.perf_counter()
        for n in range(args.adds):
            assert writer.post("/add", {"name": f"profiled add {n}"}).status == 302
            writer.get("/")  # a fast-path hit: outside Django's handler, so outside the profile's requests
        elapsed = time.perf_counter() - started
        spy.send_signal(2)
        spy.wait(30)
    finally:
        if instance:
            instance.stop()
        memcached.cleanup()
        postgres.stop()
    unprofiled.sort()
    print(
        f"100 adds at {args.tasks} tasks, unprofiled: median {unprofiled[50]:.2f} ms "
        f"(min {unprofiled[0]:.2f}, max {unprofiled[-1]:.2f}); profiled: {elapsed / args.adds * 1000:.2f} ms each"
    )
    report(raw)
    return 0


def report(raw: Path) -> None:
    inside, parts = 0, collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if REQUEST not in stack:
            continue
        inside += int(count)
        for part, frame in PARTS.items():
            if frame in stack:
                parts[part] += int(count)
    print(f"{'share of the request':>22}  part")
    for part in PARTS:
        if parts[part]:
            print(f"{parts[part] / inside:>21.1%}  {part}")


if __name__ == "__main__":
    sys.exit(main())
