"""A mixed read/write load on the task list that remembers what the app acknowledged.

Each simulated visitor keeps its own cookies and CSRF token and sends every
request to a random instance, as a load balancer would. It reads the list,
adds tasks with unique names, deletes tasks it has seen, now and then sends a
bad form, and after a successful write follows the redirect and reads the list
again. Every request is recorded with its times and answer; the judge
(chaos/judge.py) works from those records alone.
"""

import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from testsupport.http import Visitor
from testsupport.pages import csrf_tokens, tasks_shown


class _Visitor(Visitor):
    token: str | None = None  # from the last page that had a form


@dataclass
class Request:
    kind: str  # read, add, remove, bad
    port: int
    started: float  # time.monotonic()
    finished: float
    status: int | None  # None: no answer (refused, reset, timed out)
    failure: str = ""
    name: str = ""  # add: the task's name
    task_id: int | None = None  # remove: the id sent
    seen: dict[int, str] = field(default_factory=dict)  # read: the list shown, id -> name

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def acknowledged(self) -> bool:
        """The app said the write was done (it redirects back to the list)."""
        return self.kind in ("add", "remove") and self.status == 302


class Load:
    """``visitors`` threads sending requests until stop(); think time between requests."""

    def __init__(self, ports: list[int], *, visitors: int = 4, think: tuple[float, float] = (0.01, 0.04), seed=None):
        self.ports = ports
        self.write_ports: list[int] | None = None  # None: writes go to any instance, as reads do
        self.visitors = visitors
        self.think = think
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._random = random.Random(seed)
        self._names = itertools.count(1)

    def start(self) -> "Load":
        for number in range(self.visitors):
            visitor_random = random.Random(self._random.random())
            thread = threading.Thread(target=self._visit, args=(number, visitor_random), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Request]:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.requests

    def _visit(self, number: int, rng: random.Random) -> None:
        visitor = _Visitor(self.ports[0], timeout=10)
        known_ids: list[int] = []
        while not self._stopping.is_set():
            visitor.port = rng.choice(self.ports)
            roll = rng.random()
            token = visitor.token
            reading = token is None or roll < 0.65
            if not reading and self.write_ports:
                visitor.port = rng.choice(self.write_ports)
            if reading:
                request = self._send(visitor, "read", "GET", "/")
            elif roll < 0.82:
                name = f"chaos-{number}-{next(self._names)}-{uuid.uuid4().hex[:6]}"
                request = self._send(visitor, "add", "POST", "/add", {"csrfmiddlewaretoken": token, "name": name})
                request.name = name
            elif roll < 0.97 and known_ids:
                task_id = rng.choice(known_ids)
                form = {"csrfmiddlewaretoken": token, "id": str(task_id)}
                request = self._send(visitor, "remove", "POST", "/remove", form)
                request.task_id = task_id
            else:
                form = rng.choice([{"name": ""}, {"name": "x" * 201}, {"id": "not-a-number"}])
                path = "/add" if "name" in form else "/remove"
                request = self._send(visitor, "bad", "POST", path, {"csrfmiddlewaretoken": token, **form})
            if request.kind in ("add", "remove") and request.status == 302:
                # As a browser does: back to the list, which must show the change.
                visitor.port = rng.choice(self.ports)
                request = self._send(visitor, "read", "GET", "/")
            if request.kind == "read" and request.status == 200:
                known_ids = list(request.seen)
            time.sleep(rng.uniform(*self.think))

    def _send(self, visitor: _Visitor, kind: str, method: str, path: str, form: dict | None = None) -> Request:
        started = time.monotonic()
        try:
            response = visitor.request(method, path, form)
        except OSError as error:
            request = Request(kind, visitor.port, started, time.monotonic(), None, failure=type(error).__name__)
        else:
            request = Request(kind, visitor.port, started, time.monotonic(), response.status)
            if kind == "read" and response.status == 200:
                request.seen = tasks_shown(response.text)
            if tokens := csrf_tokens(response.text):
                visitor.token = tokens[0]
        self.requests.append(request)
        return request
