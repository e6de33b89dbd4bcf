"""The SQL that a test's own task sends, on every engine of the runtime (on SQLite the
read threads' too: `ThreadedReads` carries the task's context to them). The in-process
worker shares the engines, not the task, so its statements are not counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

from services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    engine: Engine
    thread: str
    """The name of the thread that sent it."""


_recording: ContextVar[list[Statement] | None] = ContextVar("statements", default=None)


@contextmanager
def statements_of_this_task(runtime: Runtime) -> Iterator[list[Statement]]:
    seen: list[Statement] = []
    listeners = []
    for engine in runtime.sync_engines:

        def record(*args: Any, engine: Engine = engine) -> None:
            recording = _recording.get()
            if recording is not None:
                recording.append(Statement(str(args[2]), engine, threading.current_thread().name))

        event.listen(engine, "before_cursor_execute", record)
        listeners.append((engine, record))
    token = _recording.set(seen)
    try:
        yield seen
    finally:
        _recording.reset(token)
        for engine, record in listeners:
            event.remove(engine, "before_cursor_execute", record)
