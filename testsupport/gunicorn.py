"""The app under gunicorn, started as production starts it: `gunicorn django_tasklist.wsgi`."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from testsupport.ports import free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent


class GunicornInstance:
    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        app: str = "django_tasklist.wsgi",
        log=None,
        access_log=False,
        repo: Path = REPO,
    ):
        """``access_log``: keep gunicorn's access log (to ``log``); off by default, as it is noise in tests.
        ``repo``: another checkout of the app, run with its own .venv (the benchmark's code before a change)."""
        self.port = free_port()
        self.repo = repo
        self.app = app
        self.log = log
        self.access_log = access_log
        self.env = {**os.environ, **env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)}
        self.process: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> "GunicornInstance":
        gunicorn = _python(self.repo).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                self.app,
                "--bind",
                f"127.0.0.1:{self.port}",
                *([] if self.access_log else ["--access-logfile", "/dev/null"]),
            ],
            cwd=self.repo,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        wait_for_port(self.port, timeout=30, process=self.process)

    def worker_pids(self) -> list[int]:
        """The master's children: the workers, as they are now."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _python(repo: Path) -> Path:
    return Path(sys.executable) if repo == REPO else repo / ".venv" / "bin" / "python"


def migrate(env: dict[str, str], repo: Path = REPO) -> None:
    subprocess.run(
        [str(_python(repo)), "manage.py", "migrate", "--noinput", "-v0"],
        cwd=repo,
        env={**os.environ, **env},
        check=True,
    )


def collectstatic(env: dict[str, str], repo: Path = REPO) -> None:
    """Production settings serve static files from the collected manifest; without it every page fails."""
    subprocess.run(
        [str(_python(repo)), "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=repo,
        env={**os.environ, **env},
        check=True,
    )


def create_staff_user(env: dict[str, str], username: str, password: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            "s@example.com",
        ],
        cwd=REPO,
        env={**os.environ, **env, "DJANGO_SUPERUSER_PASSWORD": password},
        check=True,
        capture_output=True,
    )
