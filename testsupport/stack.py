"""`make stack`: the production topology on this machine, in one command.

App Platform runs the app as a load balancer in front of several instances of
`gunicorn django_tasklist.wsgi`, with a managed PostgreSQL and MemCachier. Here:
nginx on one port, two gunicorn instances of two workers in production mode, a
PostgreSQL cluster of its own and a SASL memcached, each on a free port, with a
staff user to log in with. Ctrl-C stops them all and removes what they wrote.

TLS ends at App Platform's load balancer; here the browser talks plain HTTP to
loopback, which browsers treat as secure, so the HTTPS redirect is off.
"""

import argparse
import secrets
import signal
import sys
import time

from sasl_memcached.testing import SaslMemcached

from testsupport.environment import production_env
from testsupport.gunicorn import GunicornInstance, collectstatic, create_staff_user
from testsupport.nginx import Nginx
from testsupport.postgres import OwnPostgres

STAFF_USERNAME = "admin"


class Stack:
    def __init__(self, port: int, instances: int = 2, workers: int = 2):
        self.port = port
        self.instance_count = instances
        self.workers = workers
        self.staff_password = secrets.token_urlsafe(12)
        self.postgres: OwnPostgres | None = None
        self.memcached: SaslMemcached | None = None
        self.instances: list[GunicornInstance] = []
        self.nginx: Nginx | None = None

    def start(self) -> "Stack":
        say("PostgreSQL: a cluster of its own (initdb)")
        self.postgres = OwnPostgres().start()
        say("memcached with SASL, as MemCachier")
        self.memcached = SaslMemcached(password=secrets.token_urlsafe(16)).start()
        env = production_env(
            database_url=self.postgres.url("tasklist"),
            memcached=self.memcached,
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        )
        say("the pre-deploy job: migrate, then collectstatic and the first staff user")
        self.postgres.app_database("tasklist", env)
        collectstatic(env)
        create_staff_user(env, STAFF_USERNAME, self.staff_password)
        say(f"{self.instance_count} gunicorn instances x {self.workers} workers, production settings")
        self.instances = [
            GunicornInstance(env, workers=self.workers).start(wait=False) for _ in range(self.instance_count)
        ]
        for instance in self.instances:
            instance.wait_ready()
        say(f"nginx on port {self.port}, in front of ports {', '.join(str(i.port) for i in self.instances)}")
        self.nginx = Nginx(self.port, [instance.port for instance in self.instances]).start()
        return self

    def broken(self) -> str | None:
        """What has died, if anything has."""
        for name, process in [
            ("nginx", self.nginx and self.nginx.process),
            ("memcached", self.memcached and self.memcached.process),
            *((f"gunicorn on {i.port}", i.process) for i in self.instances),
        ]:
            if process is not None and process.poll() is not None:
                return f"{name} exited with {process.returncode}"
        return None

    def stop(self) -> None:
        """Everything started, in reverse order; what a step fails to stop does not stop the rest."""
        steps = [self.nginx and self.nginx.stop, *(i.stop for i in self.instances)]
        steps += [self.memcached and self.memcached.cleanup, self.postgres and self.postgres.stop]
        for step in steps:
            if step:
                try:
                    step()
                except Exception as error:  # one that fails must not leave the others running
                    say(f"while stopping: {error}")


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="the port nginx listens on (default 8080)")
    args = parser.parse_args()
    # Ctrl-C reaches every process in the terminal's group; SIGTERM (kill) only this one: both stop everything.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # even when started where SIGINT is ignored (a background job)
    stack = Stack(args.port)
    try:
        stack.start()
        print(
            f"\n  The task list:        http://localhost:{args.port}/\n"
            f"  Admin and dashboard:  http://localhost:{args.port}/admin/  http://localhost:{args.port}/stats/\n"
            f"  Log in as {STAFF_USERNAME!r} with the password {stack.staff_password!r} (new for this run)\n"
            f"  Ctrl-C stops everything and removes the data.\n",
            flush=True,
        )
        while (problem := stack.broken()) is None:
            time.sleep(0.5)
        say(problem + "; stopping the rest")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stack.stop()
        say("stopped; nothing left running")


if __name__ == "__main__":
    sys.exit(main())
