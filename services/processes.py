"""Child processes that never outlive the process that started them.

A SIGKILLed worker runs no cleanup, so its ffmpeg, ffprobe or redis-server children
would run on, orphaned, until they finished. On Linux every child is started with
PR_SET_PDEATHSIG: the kernel kills it when its parent dies, however it dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()  # resolved here, so the forked child only makes the call


def dies_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel SIGKILL the child when this process dies,
    however it dies (a SIGKILLed parent runs no cleanup); None where there is no
    PR_SET_PDEATHSIG. The signal follows the *thread* that forks: start children from
    the event loop's thread, which lives as long as the process. The child runs only a
    libc call and getppid() between fork and exec, nothing that takes a lock another
    thread could hold (the reason preexec_fn is unsafe with threads)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody would kill us
            os._exit(1)

    return preexec
