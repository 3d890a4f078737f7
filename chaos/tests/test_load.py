"""The chaos run's judge: what counts as a stale read and as a lost write."""

import pytest

from chaos.judge import lost_writes, reads_back_in_time, stale_reads
from chaos.load import Request

pytestmark = pytest.mark.fast


def add(name, started, finished, status=302):
    return Request("add", 1, started, finished, status, name=name)


def remove(task_id, started, finished, status=302):
    return Request("remove", 1, started, finished, status, task_id=task_id)


def read(started, seen, finished=None):
    return Request("read", 1, started, finished or started + 0.01, 200, seen=seen)


def staleness(requests):
    return [round(stale.seconds, 3) for stale in stale_reads(requests)]


def test_a_read_that_starts_after_an_add_was_acknowledged_must_show_it():
    assert staleness([add("a", 0, 1.0), read(2.5, {})]) == [1.5]
    assert staleness([add("a", 0, 1.0), read(2.5, {7: "a"})]) == []


def test_a_read_that_started_before_the_acknowledgement_may_miss_it():
    assert staleness([add("a", 0, 1.0), read(0.5, {})]) == []


def test_an_added_task_may_be_missing_once_someone_has_asked_to_delete_it():
    requests = [add("a", 0, 1.0), read(1.1, {7: "a"}), remove(7, 1.2, 5.0, status=None), read(1.3, {})]
    assert staleness(requests) == []


def test_an_acknowledged_delete_must_never_show_again():
    assert staleness([remove(7, 0, 1.0), read(1.5, {7: "a"})]) == [0.5]
    assert staleness([remove(7, 0, 1.0), read(1.5, {8: "b"})]) == []


def test_a_stale_read_counts_from_the_oldest_write_it_missed():
    requests = [add("a", 0, 1.0), add("b", 0, 2.0), read(3.0, {})]
    assert staleness(requests) == [2.0]


def test_failed_writes_promise_nothing():
    assert staleness([add("a", 0, 1.0, status=503), read(2.0, {})]) == []
    assert lost_writes([add("a", 0, 1.0, status=503)], stored={}) == []


def test_an_acknowledged_add_missing_from_the_database_is_lost():
    acknowledged = add("a", 0, 1.0)
    assert lost_writes([acknowledged], stored={}) == [acknowledged]
    assert lost_writes([acknowledged], stored={7: "a"}) == []


def test_an_add_deleted_afterwards_is_not_lost():
    requests = [add("a", 0, 1.0), read(1.1, {7: "a"}), remove(7, 1.2, 1.3, status=None)]
    assert lost_writes(requests, stored={}) == []


def test_an_acknowledged_delete_still_in_the_database_is_lost():
    acknowledged = remove(7, 0, 1.0)
    assert lost_writes([acknowledged], stored={7: "a"}) == [acknowledged]
    assert lost_writes([acknowledged], stored={}) == []


def back_in_time(requests):
    return [(going_back.task, round(going_back.since, 3)) for going_back in reads_back_in_time(requests)]


def test_a_read_must_not_lose_a_task_an_earlier_read_through_its_instance_showed():
    assert back_in_time([read(1.0, {7: "a"}), read(2.0, {})]) == [("a", 0.99)]
    assert back_in_time([read(1.0, {7: "a"}), read(2.0, {7: "a"})]) == []


def test_reads_through_another_instance_or_overlapping_ones_are_not_compared():
    other_instance = Request("read", 2, 2.0, 2.01, 200, seen={})
    assert back_in_time([read(1.0, {7: "a"}), other_instance]) == []
    assert back_in_time([read(1.0, {7: "a"}, finished=3.0), read(2.0, {})]) == []


def test_a_task_may_go_once_its_delete_was_sent_and_must_not_come_back():
    requests = [read(1.0, {7: "a"}), remove(7, 1.5, 1.6), read(2.0, {}), read(3.0, {})]
    assert back_in_time(requests) == []
    assert back_in_time([*requests, read(4.0, {7: "a"})]) == [("a", 1.99)]
