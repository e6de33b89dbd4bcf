"""The concurrency helpers of live subscriptions: eager writes (a lane starts each
socket write in its own task and hands only a write that must wait to a task of its
own) and coalesced reads (a storm of identical queries shares a few)."""

from __future__ import annotations

import asyncio

import pytest

from gql.live.coalesce import Coalescer
from gql.live.lanes import start_eagerly


async def test_a_write_with_room_completes_in_the_callers_task() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("sent")

    assert start_eagerly(write()) is None
    assert done == ["sent"]


async def test_a_write_that_waits_is_finished_by_a_task() -> None:
    room = asyncio.Event()
    done: list[str] = []

    async def write() -> None:
        await room.wait()
        await asyncio.sleep(0)
        done.append("sent")

    task = start_eagerly(write())
    assert task is not None and not done
    room.set()
    await task
    assert done == ["sent"]


async def test_errors_and_cancellation_reach_the_write() -> None:
    async def broken() -> None:
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        start_eagerly(broken())
    never = asyncio.Event()
    cleaned: list[bool] = []

    async def stuck() -> None:
        try:
            await never.wait()
        finally:
            cleaned.append(True)

    task = start_eagerly(stuck())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_identical_reads_share_one_query_unless_it_had_started() -> None:
    gate = asyncio.Event()
    queries: list[int] = []

    async def fetch() -> int:
        queries.append(1)
        await gate.wait()
        return len(queries)

    reads: Coalescer[str, int] = Coalescer(concurrency=1)
    first = asyncio.create_task(reads.run("job", fetch))
    await asyncio.sleep(0)  # the first read has started: later callers cannot join it
    storm = [asyncio.create_task(reads.run("job", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    assert len(queries) == 1, "the others wait for a slot, together"
    gate.set()
    assert await first == 1
    assert set(await asyncio.gather(*storm)) == {2}, "fifty callers, one more query"


async def test_a_caller_leaving_does_not_cancel_the_read_for_others() -> None:
    gate = asyncio.Event()

    async def fetch() -> str:
        await gate.wait()
        return "rows"

    reads: Coalescer[str, str] = Coalescer()
    leaving = asyncio.create_task(reads.run("job", fetch))
    staying = asyncio.create_task(reads.run("job", fetch))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == "rows"

    async def broken() -> str:
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await reads.run("other", broken)
