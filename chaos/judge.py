"""The judge: from the record of every request alone, what visitors saw and which targets were missed."""

from collections import Counter
from dataclasses import dataclass, field

from chaos.load import Request
from chaos.scenarios import Scenario

# What "a request slower because of the cache" may cost (how fast the database-down page must
# come is the scenario's: chaos/scenarios.py).
CACHE_DELAY_BUDGET = 0.5
# While the database does not answer (stopped or hanging): reads go on from the cache within this.
READ_BUDGET_WITHOUT_DATABASE = 1.0
# memcached counts expiry times in whole seconds: an entry can outlive its TTL by up to one.
MEMCACHED_CLOCK_TICK = 1
# After any fault, a read that starts this long after a write was acknowledged
# shows it (under expire the bound is the TTL: its documented lag).
STALENESS_BOUND = 1.0
# The only right answers. A remove may find the task already deleted by another
# visitor (404); a 503 is right only while PostgreSQL is down, and just after.
EXPECTED_ANSWERS = {"read": {200}, "add": {302}, "remove": {302, 404}, "bad": {400}}


def outcomes(requests: list[Request]) -> Counter:
    """How requests were answered: status codes, and failures without an answer."""
    return Counter(str(request.status) if request.status else request.failure for request in requests)


@dataclass
class StaleRead:
    read: Request
    missed: Request  # the acknowledged write the read did not show
    seconds: float  # how long after that write was acknowledged the read started


def stale_reads(requests: list[Request]) -> list[StaleRead]:
    """Reads that started after a write was acknowledged and did not show it.

    An acknowledged add is missing from a later read unless a delete of that
    task had been sent by then; an acknowledged delete must never show again.
    """
    reads = [request for request in requests if request.kind == "read" and request.status == 200]
    adds = [request for request in requests if request.kind == "add" and request.acknowledged]
    removes = [request for request in requests if request.kind == "remove" and request.acknowledged]
    id_of = _ids_by_name(requests)
    first_remove_sent = _first_remove_sent(requests)
    found = []
    for read in reads:
        names = set(read.seen.values())
        misses = [
            add
            for add in adds
            if add.finished < read.started
            and add.name not in names
            and first_remove_sent.get(id_of.get(add.name), 1e18) > read.finished
        ]
        misses += [remove for remove in removes if remove.finished < read.started and remove.task_id in read.seen]
        if misses:
            oldest = min(misses, key=lambda write: write.finished)
            found.append(StaleRead(read, oldest, read.started - oldest.finished))
    return found


@dataclass
class BackInTime:
    read: Request  # through one instance,
    task: str  # lost this task, or showed it again deleted,
    since: float  # though a read through that instance that ended this long before had it right


def reads_back_in_time(requests: list[Request]) -> list[BackInTime]:
    """Reads that showed an older list than a read through the same instance that ended before they began.

    Either a task an earlier read showed is missing, and no delete of it had been
    sent by the time this read ended; or a task an earlier read showed, and a later
    one no longer showed once its delete had been sent, is shown again.
    """
    found = []
    id_of = _ids_by_name(requests)
    remove_sent = _first_remove_sent(requests)
    for port in {request.port for request in requests}:
        reads = sorted(
            (r for r in requests if r.kind == "read" and r.status == 200 and r.port == port), key=lambda r: r.started
        )
        by_finish = sorted(reads, key=lambda r: r.finished)
        first_shown: dict[str, float] = {}  # task -> when a read through this instance that showed it ended
        gone_at: dict[str, float] = {}  # task -> when a read that no longer showed it (deleted) ended
        known = 0  # reads of by_finish folded into first_shown
        for read in reads:
            while known < len(by_finish) and by_finish[known].finished < read.started:
                for name in by_finish[known].seen.values():
                    first_shown.setdefault(name, by_finish[known].finished)
                known += 1
            names = set(read.seen.values())
            missing = first_shown.keys() - names
            lost = [name for name in missing if remove_sent.get(id_of.get(name), 1e18) > read.finished]
            for name in missing.difference(lost):
                gone_at.setdefault(name, read.finished)
            shown_again = [name for name in names if gone_at.get(name, 1e18) < read.started]
            if lost:
                found.append(BackInTime(read, lost[0], read.started - first_shown[lost[0]]))
            elif shown_again:
                found.append(BackInTime(read, shown_again[0], read.started - gone_at[shown_again[0]]))
    return found


def lost_writes(requests: list[Request], stored: dict[int, str]) -> list[Request]:
    """Acknowledged writes the database does not hold: adds missing, deletes undone.

    ``stored`` is the database's task table (id -> name) after the load.
    An added task may be missing only if a delete of it was sent.
    """
    names = set(stored.values())
    id_of = _ids_by_name(requests)
    delete_sent = _first_remove_sent(requests)
    lost = [
        request
        for request in requests
        if request.kind == "add"
        and request.acknowledged
        and request.name not in names
        and id_of.get(request.name) not in delete_sent
    ]
    lost += [
        request
        for request in requests
        if request.kind == "remove" and request.acknowledged and request.task_id in stored
    ]
    return lost


def _ids_by_name(requests: list[Request]) -> dict[str, int]:
    """Each task's id, from the pages that showed it (names are unique)."""
    return {name: task_id for request in requests for task_id, name in request.seen.items()}


def _first_remove_sent(requests: list[Request]) -> dict[int, float]:
    """When a delete of each task was first sent, answered or not."""
    sent: dict[int, float] = {}
    for request in requests:
        if request.kind == "remove":
            sent[request.task_id] = min(request.started, sent.get(request.task_id, request.started))
    return sent


@dataclass
class Result:
    scenario: str
    requests: int
    outcomes: dict[str, int]
    outcomes_by_kind: dict[str, dict[str, int]]
    slowest_healthy: float
    slowest_during_fault: float
    slowest_cache_wait: float  # the longest any request waited for memcached (from the app's log)
    staleness_healthy: float
    staleness_after_fault: float
    stale_once_back: int  # stale reads that began after the fault ended: none may be
    back_in_time: int  # reads older than an earlier read through the same instance
    lost_writes: int
    instances_agree: bool
    evictions: int = 0
    unavailable_pages: int = 0
    slowest_unavailable_page: float = 0.0
    recovery: float | None = None  # database back -> first acknowledged write
    slowest_read_during_fault: float = 0.0
    missed: list[str] = field(default_factory=list)


def analyse(
    scenario: Scenario,
    requests: list[Request],
    stored: dict[int, str],
    agree: bool,
    evictions: int,
    cache_waits: list[float],
    fault_started: float,
    fault_ended: float,
    staleness_bound: float,
) -> Result:
    before = [request for request in requests if request.finished < fault_started]
    during = [request for request in requests if request.started >= fault_started]
    # Reads that overlap the fault's start are judged as after-fault reads.
    stale = stale_reads(requests)
    unavailable = [request for request in requests if request.status == 503]
    result = Result(
        scenario=scenario.name,
        requests=len(requests),
        outcomes=dict(sorted(outcomes(requests).items())),
        outcomes_by_kind={
            kind: dict(sorted(outcomes([r for r in requests if r.kind == kind]).items()))
            for kind in ("read", "add", "remove", "bad")
        },
        slowest_healthy=max((request.seconds for request in before), default=0.0),
        slowest_during_fault=max((request.seconds for request in during), default=0.0),
        slowest_cache_wait=max(cache_waits, default=0.0),
        staleness_healthy=max((s.seconds for s in stale if s.read.finished < fault_started), default=0.0),
        staleness_after_fault=max((s.seconds for s in stale if s.read.finished >= fault_started), default=0.0),
        stale_once_back=sum(1 for s in stale if s.read.started >= fault_ended),
        back_in_time=len(reads_back_in_time(requests)),
        lost_writes=len(lost_writes(requests, stored)),
        instances_agree=agree,
        evictions=evictions,
        unavailable_pages=len(unavailable),
        slowest_unavailable_page=max((request.seconds for request in unavailable), default=0.0),
    )
    if not scenario.cache_only:
        writes_after = [
            request.finished - fault_ended
            for request in requests
            if request.acknowledged and request.started >= fault_ended
        ]
        result.recovery = min(writes_after, default=None)
        result.slowest_read_during_fault = max(
            (r.seconds for r in during if r.kind == "read" and r.started <= fault_ended), default=0.0
        )
    result.missed = missed_targets(scenario, result, requests, staleness_bound, fault_started, fault_ended)
    return result


def missed_targets(
    scenario: Scenario,
    result: Result,
    requests: list[Request],
    staleness_bound: float,
    fault_started: float,
    fault_ended: float,
) -> list[str]:
    missed = []
    database_down = not scenario.cache_only
    unexpected = [
        request
        for request in requests
        if request.status not in EXPECTED_ANSWERS[request.kind]
        and not (database_down and request.status == 503 and fault_started <= request.finished <= fault_ended + 2)
        and not (scenario.kills_workers and request.status is None and fault_started <= request.started <= fault_ended)
    ]
    if unexpected:
        missed.append(f"unexpected answers: {dict(outcomes(unexpected))}")
    if database_down:
        if result.slowest_unavailable_page > scenario.unavailable_page_budget:
            missed.append(f"a 503 page took {result.slowest_unavailable_page:.2f} s")
        if result.slowest_read_during_fault > READ_BUDGET_WITHOUT_DATABASE:
            missed.append(f"a read took {result.slowest_read_during_fault:.2f} s without the database")
        if result.recovery is None or result.recovery > 5:
            missed.append(f"no write acknowledged within 5 s of the database's return ({result.recovery})")
    # A killed worker's requests wait for its replacement to start: that is gunicorn's cost, not the cache's.
    if (
        scenario.cache_only
        and not scenario.kills_workers
        and result.slowest_during_fault > result.slowest_healthy + CACHE_DELAY_BUDGET
    ):
        missed.append(
            f"a request took {result.slowest_during_fault:.2f} s during the fault,"
            f" {result.slowest_healthy:.2f} s before"
        )
    if result.slowest_cache_wait > CACHE_DELAY_BUDGET:
        missed.append(f"a request waited {result.slowest_cache_wait:.2f} s for the cache")
    if result.staleness_healthy > 0:
        missed.append(f"stale reads while the cache was healthy ({result.staleness_healthy:.2f} s)")
    if result.staleness_after_fault > staleness_bound:
        missed.append(f"stale reads after the fault beyond {staleness_bound} s ({result.staleness_after_fault:.2f} s)")
    if scenario.cache_only and result.stale_once_back:
        missed.append(f"{result.stale_once_back} stale reads after the cache was back")
    if result.back_in_time:
        missed.append(f"{result.back_in_time} reads older than an earlier read through the same instance")
    if result.lost_writes:
        missed.append(f"{result.lost_writes} acknowledged writes lost")
    if not result.instances_agree:
        missed.append("the instances do not show what the database holds")
    if scenario.fault is None and result.staleness_after_fault > 0:
        missed.append(f"stale reads with no fault at all ({result.staleness_after_fault:.2f} s)")
    return missed
