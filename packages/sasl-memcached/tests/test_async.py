"""The backend driven from asyncio code, as an async view drives it: Django's async cache methods give
the answers the sync ones give, on a real SASL memcached, on every Django release the package supports
(the matrix runs this file on each)."""

import asyncio

import pytest

from sasl_memcached.backend import BinaryMemcachedCache


@pytest.fixture
def cache(memcached):
    cache = BinaryMemcachedCache(
        memcached.server,
        {"KEY_PREFIX": "async", "OPTIONS": {"username": memcached.username, "password": memcached.password}},
    )
    cache.clear()
    return cache


def test_async_methods_answer_as_the_sync_ones(cache):
    async def view():
        await cache.aset("page", "<li>a task</li>")
        await cache.aset_many({"one": 1, "two": None})
        answers = {
            "aget": await cache.aget("page"),
            "aget missing": await cache.aget("missing", "default"),
            "aget_many": await cache.aget_many(["one", "two", "missing"]),
            "ahas_key": (await cache.ahas_key("two"), await cache.ahas_key("missing")),
            "aadd": (await cache.aadd("page", "other"), await cache.aadd("new", "added")),
            "atouch": (await cache.atouch("page", 60), await cache.atouch("missing", 60)),
            "aget_or_set": await cache.aget_or_set("made", lambda: "made once"),
            "adelete": (await cache.adelete("new"), await cache.adelete("new")),
        }
        await cache.adelete_many(["one", "two"])
        answers["after adelete_many"] = await cache.aget_many(["one", "two"])
        await cache.aclose()
        answers["after aclose"] = await cache.aget("page")
        return answers

    assert asyncio.run(view()) == {
        "aget": "<li>a task</li>",
        "aget missing": "default",
        "aget_many": {"one": 1, "two": None},
        "ahas_key": (True, False),
        "aadd": (False, True),
        "atouch": (True, False),
        "aget_or_set": "made once",
        "adelete": (True, False),
        "after adelete_many": {},
        "after aclose": "<li>a task</li>",
    }


def test_increments_from_concurrent_tasks_are_all_counted(cache):
    """Django 5.2's aincr is an aget and then an aset: tasks interleave between the two and lose counts."""
    cache.set("views", 0)

    async def many_views():
        await asyncio.gather(*(cache.aincr("views") for _ in range(100)), *(cache.adecr("views", 2) for _ in range(10)))

    asyncio.run(many_views())
    assert cache.get("views") == 80


def test_an_async_incr_of_a_missing_key_raises_and_creates_nothing(cache):
    with pytest.raises(ValueError):
        asyncio.run(cache.aincr("missing"))
    assert cache.get("missing", "absent") == "absent"


def test_concurrent_tasks_each_read_their_own_values(cache):
    """One connection serves every task (sync_to_async runs them on one thread): replies never cross."""
    cache.set_many({f"task-{n}": f"value {n}" * n for n in range(200)})

    async def readers():
        return await asyncio.gather(*(cache.aget(f"task-{n}") for n in range(200)))

    assert asyncio.run(readers()) == [f"value {n}" * n for n in range(200)]
