"""A short `make chaos` and a randomized concurrency run per invalidation strategy.

Real servers throughout: two gunicorn instances of two workers each, a SASL
memcached, a PostgreSQL cluster of the run's own (so it can be restarted), and
a load of concurrent visitors. See chaos/run.py for what each scenario does.
"""

import pytest

from chaos.judge import MEMCACHED_CLOCK_TICK
from chaos.run import run
from chaos.scenarios import QUICK, SCENARIOS, Timings

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module")
def quick_chaos(tmp_path_factory):
    results = run(QUICK, output=tmp_path_factory.mktemp("chaos"))
    return {result.scenario: result for result in results}


@pytest.mark.parametrize("scenario", [scenario.name for scenario in SCENARIOS])
def test_every_target_is_met(quick_chaos, scenario):
    result = quick_chaos[scenario]
    assert result.missed == []
    assert result.requests > 100, "the load ran"


def test_faults_really_happened(quick_chaos):
    assert quick_chaos["memcached 2 MB, evicting"].evictions > 0
    database_down = quick_chaos["PostgreSQL restarted"]
    assert database_down.unavailable_pages > 0, "some writes hit the outage and got the 503 page"
    assert database_down.recovery is not None


CONCURRENCY = Timings(healthy=6, outage=0, pause=0, ttl=3)
NO_FAULT = [scenario for scenario in SCENARIOS if scenario.fault is None]


@pytest.mark.parametrize("strategy", ["delete", "version", "update"])
def test_many_visitors_always_read_their_own_and_everyone_elses_acknowledged_writes(strategy, tmp_path):
    (result,) = run(CONCURRENCY, strategy=strategy, visitors=8, scenarios=NO_FAULT, output=tmp_path)
    assert result.outcomes_by_kind["add"] == {"302": result.outcomes_by_kind["add"]["302"]}, "every add succeeded"
    assert result.staleness_healthy == result.staleness_after_fault == 0
    assert result.lost_writes == 0
    assert result.instances_agree


def test_with_expire_reads_lag_behind_writes_by_at_most_the_ttl(tmp_path):
    (result,) = run(CONCURRENCY, strategy="expire", visitors=8, scenarios=NO_FAULT, output=tmp_path)
    # This is also the proof that the judge sees stale reads when there are some.
    assert 0 < max(result.staleness_healthy, result.staleness_after_fault) <= CONCURRENCY.ttl + MEMCACHED_CLOCK_TICK
    assert result.lost_writes == 0
    assert result.instances_agree, "once the TTL has passed, every instance shows the database"
