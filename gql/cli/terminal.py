"""What the terminal commands share: a console, money as text, and a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from rich.console import Console

T = TypeVar("T")


def console(*, stderr: bool = False) -> Console:
    return Console(soft_wrap=True, highlight=False, stderr=stderr)


def usd(value: Any) -> str:
    return f"${Decimal(str(value)):.3f}" if value is not None else "-"


async def stoppable(work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work`; SIGINT or SIGTERM cancels it, so its cleanup (the server, the embedded
    Redis, the worker) runs, and gives None."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled():
            return None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
