"""Scratch PostgreSQL databases for tests that run the app in other processes."""

import os
import signal
import uuid

import dj_database_url
import psycopg

# The server the tests use; the machine's PostgreSQL with trust auth by default.
SERVER_URL = os.environ.get("TASKLIST_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _admin_connection() -> psycopg.Connection:
    config = dj_database_url.parse(SERVER_URL)
    try:
        return psycopg.connect(
            host=config["HOST"],
            port=config["PORT"] or 5432,
            user=config["USER"],
            password=config["PASSWORD"] or None,
            dbname=config["NAME"],
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL is required for the tests and is not reachable at {SERVER_URL}: {error}"
        ) from error


def require_server() -> None:
    _admin_connection().close()


def database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


def create_database(prefix: str = "tasklist_it") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class OwnPostgres:
    """A throwaway PostgreSQL cluster on a free port (initdb + pg_ctl), for the benchmark and chaos runs."""

    def __init__(self):
        import glob
        import shutil
        import tempfile
        from pathlib import Path

        from testsupport.ports import free_port

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
        if not found or not found[-1]:
            raise RuntimeError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
        self.port = free_port()
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        else:
            self._as_owner = []

    def _run(self, *command: str) -> None:
        import subprocess

        subprocess.run([*self._as_owner, *command], check=True, capture_output=True)

    def start(self) -> "OwnPostgres":
        self._run(
            str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.start_server()
        return self

    def start_server(self) -> None:
        """Start the server on its data directory (again, after stop_server)."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=400"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop_server(self) -> None:
        """Stop the server as an operator's restart does: open connections are cut, data is kept."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def freeze_server(self) -> None:
        """Every process of the cluster stopped with SIGSTOP: it accepts connections and bytes, and never
        answers (a stalled disk, a failover that leaves the old address silent)."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw_server(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def _processes(self) -> list[int]:
        """The postmaster and its children, as they are now."""
        from pathlib import Path

        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, database: str, sql: str, params=()) -> None:
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql, params)

    def query(self, database: str, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def app_database(self, name: str, env: dict[str, str], repo=None) -> str:
        """A new database with the app's tables (migrated under ``env``, by ``repo``'s code); returns its URL."""
        from testsupport.gunicorn import REPO, migrate

        url = self.create_database(name)
        migrate({**env, "DATABASE_URL": url}, repo or REPO)
        return url

    def replace_tasks(self, database: str, count: int, prefix: str = "Task number ") -> None:
        """Empty the task list, then add ``count`` tasks named ``<prefix><n>``."""
        self.execute(database, "TRUNCATE mc_tasklist_task")
        self.execute(
            database,
            "INSERT INTO mc_tasklist_task (name, created_at) SELECT %s || n, now() FROM generate_series(1, %s) n",
            (prefix, count),
        )

    def running(self) -> bool:
        import subprocess

        status = [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "status"]
        return subprocess.run([*self._as_owner, *status], capture_output=True).returncode == 0

    def stop(self) -> None:
        import shutil
        import subprocess

        try:
            self.stop_server()
        except subprocess.CalledProcessError:
            if self.running():  # Not merely stopped already, as by the Ctrl-C that reached it too.
                raise
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
