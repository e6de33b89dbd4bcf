"""A request's reads get a session (services/reads.py `ReadSession`). One that read
nothing through the ORM is handed to a later request; one that did is closed and never
seen again, so no request finds another's instances, pending changes or connection."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Client
from services.reads import ReadSession, core_rows
from services.runtime import Runtime


async def _client_id(runtime: Runtime) -> uuid.UUID:
    async with runtime.session_factory() as session:
        client = Client(name=f"sessions {uuid.uuid4().hex[:8]}")
        session.add(client)
        await session.commit()
        return client.id


async def test_a_session_that_read_through_the_orm_is_not_handed_on(runtime: Runtime) -> None:
    client_id = await _client_id(runtime)
    seen: list[AsyncSession] = []  # held, so that no two can share an id
    for _ in range(3):
        reads = ReadSession(runtime.session_factory, runtime.reads)
        try:
            async with reads() as session:
                seen.append(session)
                assert not session.identity_map and not session.new
                assert (await core_rows(session, select(func.count(Client.id))))[0][0] >= 1
                found = await session.get(Client, client_id)  # through the ORM
                assert found is not None and found in session
        finally:
            await reads.close()
    assert len({id(s) for s in seen}) == 3, "a session that read through the ORM was handed on"


async def test_a_session_with_pending_changes_is_not_handed_on(runtime: Runtime) -> None:
    first = ReadSession(runtime.session_factory, runtime.reads)
    async with first() as session:
        session.add(Client(name="never flushed"))
        pending = session
    await first.close()
    second = ReadSession(runtime.session_factory, runtime.reads)
    try:
        async with second() as session:
            assert session is not pending
            assert not session.new
    finally:
        await second.close()


async def test_an_untouched_session_reads_for_the_request_that_has_it(runtime: Runtime) -> None:
    """Handed on, a session's Core reads run for its new request (on PostgreSQL, on that
    request's connection), and a read through the ORM still works in it."""
    client_id = await _client_id(runtime)
    sessions: list[AsyncSession] = []
    for _ in range(2):
        reads = ReadSession(runtime.session_factory, runtime.reads)
        try:
            async with reads() as session:
                sessions.append(session)
                rows = await core_rows(session, select(Client.name).where(Client.id == client_id))
                assert rows[0][0].startswith("sessions ")
        finally:
            await reads.close()
    assert sessions[0] is sessions[1], "a session that read nothing through the ORM was dropped"
    reads = ReadSession(runtime.session_factory, runtime.reads)
    try:
        async with reads() as session:
            assert session is sessions[1]
            found = await session.get(Client, client_id)
            assert found is not None
    finally:
        await reads.close()
