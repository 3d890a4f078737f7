"""A real memcached for tests, started and stopped by the test: by default requiring SASL
authentication, as MemCachier does. Needs Debian's (or any) memcached and saslpasswd2.

    server = SaslMemcached().start()
    CACHES = {"default": {"BACKEND": "sasl_memcached.backend.BinaryMemcachedCache",
                          "LOCATION": server.server,
                          "OPTIONS": {"username": server.username, "password": server.password}}}
    ...
    server.cleanup()

``pause()`` and ``resume()`` freeze it (SIGSTOP) as a hung server, ``kill()`` as a crashed one;
``free_port()`` and ``wait_for_port()``, which it uses, serve other test servers too.
``run_djangos_memcached_tests()`` holds a backend to Django's own memcached test suite.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bmemcached

INSTALL_HINT = "apt-get install -y memcached sasl2-bin libsasl2-modules"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 10.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _require(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if path is None:
        raise RuntimeError(f"{program} is not installed; the tests need it: {INSTALL_HINT}")
    return path


class SaslMemcached:
    def __init__(
        self,
        *,
        username: str = "memcached-user",
        password: str = "memcached-secret",
        memory_mb: int = 64,
        sasl: bool = True,
        tls: bool = False,
    ):
        self.sasl = sasl
        self.tls = tls
        self.username = username
        self.password = password
        self.memory_mb = memory_mb
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="sasl-memcached-"))
        if tls:
            self._make_certificate()
        (self._dir / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {self._dir / 'sasldb2'}\n")
        subprocess.run(
            [_require("saslpasswd2"), "-a", "memcached", "-c", "-p", "-f", str(self._dir / "sasldb2"), username],
            input=password.encode(),
            check=True,
        )

    @property
    def certificate(self) -> Path:
        """The server's self-signed certificate (with ``tls=True``), for clients to trust."""
        return self._dir / "cert.pem"

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                _require("openssl"),
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(self._dir / "key.pem"),
                "-out",
                str(self.certificate),
            ],
            check=True,
            capture_output=True,
        )

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        if not self.sasl:
            return {"MEMCACHIER_SERVERS": self.server, "MEMCACHIER_USERNAME": "", "MEMCACHIER_PASSWORD": ""}
        return {
            "MEMCACHIER_SERVERS": self.server,
            "MEMCACHIER_USERNAME": self.username,
            "MEMCACHIER_PASSWORD": self.password,
        }

    def start(self) -> "SaslMemcached":
        command = [
            _require("memcached"),
            *(["-S"] if self.sasl else []),
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "0",
        ]
        command += ["-m", str(self.memory_mb)]
        if self.tls:
            command += ["-Z", "-o", f"ssl_chain_cert={self.certificate},ssl_key={self._dir / 'key.pem'}"]
        if os.geteuid() == 0:
            command += ["-u", "root"]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "SASL_CONF_PATH": str(self._dir)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """Die as a crashed or replaced server does: no goodbye, every entry gone."""
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    @contextlib.contextmanager
    def client(self) -> Iterator[bmemcached.Client]:
        """A plain client of this server, as another tenant or an operator's tool would use it."""
        client = bmemcached.Client([self.server], self.username if self.sasl else None, self.password)
        try:
            yield client
        finally:
            client.disconnect_all()

    def stats(self) -> dict[str, bytes]:
        """The server's own statistics (``cmd_get``, ``evictions``, ...)."""
        with self.client() as client:
            return client.stats()[self.server]

    def flush(self) -> None:
        with self.client() as client:
            client.flush_all()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP), and return only once every one of its threads has stopped:
        the signal is delivered asynchronously, and a thread still running could answer one more request."""
        self.process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise RuntimeError(f"memcached {self.server} did not stop within 5 s of SIGSTOP")
            time.sleep(0.001)

    def _all_threads_stopped(self) -> bool:
        tasks = Path(f"/proc/{self.process.pid}/task")
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(FileNotFoundError):
                # The state follows the command name, which is in parentheses: "pid (comm) T ...".
                states.append((task / "stat").read_text().rpartition(")")[2].split()[0])
        return bool(states) and all(state == "T" for state in states)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@dataclass(frozen=True)
class SuiteResult:
    ran: int
    failed: int  # failures and errors
    skipped: int
    report: str

    @property
    def passed(self) -> int:
        return self.ran - self.failed - self.skipped


def run_djangos_memcached_tests(
    django_tests: Path,
    server: "SaslMemcached",
    *,
    backend: str = "sasl_memcached.backend.BinaryMemcachedCache",
) -> SuiteResult:
    """Run Django's ``BaseMemcachedTests`` (tests/cache/tests.py of an unpacked Django source
    distribution, ``django_tests`` its tests/ folder) against ``backend`` on ``server``, with
    Django's runtests.py and this interpreter (the package and Django as it has them installed)."""
    link = Path(django_tests) / "cache" / "test_sasl_memcached.py"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(__file__).with_name("django_suite.py"))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env |= {"SASL_MEMCACHED_BACKEND": backend, "SASL_MEMCACHED_LOCATION": server.server}
    if server.sasl:
        env |= {"SASL_MEMCACHED_USERNAME": server.username, "SASL_MEMCACHED_PASSWORD": server.password}
    result = subprocess.run(
        [
            sys.executable,
            "runtests.py",
            "--settings=test_sqlite",
            "--parallel=1",
            "cache.test_sasl_memcached",
        ],
        cwd=django_tests,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = result.stderr + result.stdout
    ran = re.search(r"Ran (\d+) tests?", report)
    if ran is None:
        raise RuntimeError(f"Django's test runner did not run: {report[-3000:]}")
    counts = {kind: int(number) for kind, number in re.findall(r"(failures|errors|skipped)=(\d+)", report)}
    return SuiteResult(
        int(ran.group(1)), counts.get("failures", 0) + counts.get("errors", 0), counts.get("skipped", 0), report
    )
