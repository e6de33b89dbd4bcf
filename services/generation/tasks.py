"""Names and deterministic arq job ids of the worker's tasks (the worker maps them)."""

from __future__ import annotations

import time
import uuid

from db.models import SubJob

RUN_SUB_JOB = "run_sub_job"
POLL_SUB_JOB = "poll_sub_job"
APPLY_WEBHOOK = "apply_webhook"
SELECT_PAIRS = "select_pairs"
COMBINE_JOB = "combine_job"
WRITE_STORYBOARD = "write_storyboard"
EXPORT_VIDEO = "export_video"
CANCEL_PREDICTIONS = "cancel_predictions"
RECONCILE = "reconcile"


def run_id(sub: SubJob) -> str:
    return f"run:{sub.id}:{sub.attempts}"


def wait_id(sub: SubJob) -> str:
    """A fresh id for a run that must queue behind the running one (a wait for a
    provider slot, a try given back after a 429): `run_id` may be that task's own."""
    return f"{run_id(sub)}:wait:{time.monotonic_ns()}"


def poll_id(sub: SubJob, n: int) -> str:
    """Two ids a sub-job's poll chain alternates between: a running poll can queue the
    next, and a second chain (a resume after a crash) merges into the first instead of
    doubling it, because its enqueue is refused while both ids are taken."""
    return f"poll:{sub.id}:{sub.attempts}:{n % 2}"


def combine_id(job_id: uuid.UUID, attempt: int = 1) -> str:
    """A join's id; a try after an unexpected error gets the next attempt's."""
    return f"combine:{job_id}" if attempt <= 1 else f"combine:{job_id}:try{attempt}"


def pairs_id(job_id: uuid.UUID, attempt: int = 1) -> str:
    return f"pairs:{job_id}" if attempt <= 1 else f"pairs:{job_id}:{attempt}"


def writing_id(job_id: uuid.UUID, attempt: int = 1) -> str:
    return f"storyboard:{job_id}" if attempt <= 1 else f"storyboard:{job_id}:{attempt}"


def export_id(job_id: uuid.UUID, attempt: int = 1) -> str:
    return f"export:{job_id}" if attempt <= 1 else f"export:{job_id}:{attempt}"
