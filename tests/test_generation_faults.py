"""No job stays running forever: an unexpected error in a task (a bug, not a provider's
failure) counts as a failed attempt; after `max_attempts` the sub-job (or the job's own
step) fails with INTERNAL_ERROR, the job ends FAILED with the reason, and the traceback
is logged once, not by arq at every rerun. The bug is planted in the real worker's
provider (there is no real trigger left), or, for the join, in the media step it calls.
The Replicate stages (poll, download, webhook) are in test_generation_replicate.py."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ResponseError
from starlette.applications import Starlette

from services.generation import combining
from services.pairing import ImageCandidate, OfflinePairSelector, PairChoice
from services.providers.local import LocalProvider
from services.queue.arq_broker import ArqBroker
from tests.client import GraphQLClient
from tests.jobs import GENERATE_IMAGE, PAIR_VIDEO, launch, wait_for_job
from tests.samples import Samples

FAULTS = "services.generation.faults"


class Bug(RuntimeError):
    """What a bug raises."""


def tracebacks(caplog: pytest.LogCaptureFixture, what: str) -> tuple[int, int]:
    """(reports with a traceback, reports without) of unexpected errors in `what`."""
    reports = [r for r in caplog.records if r.name == FAULTS and what in r.getMessage()]
    with_trace = sum(1 for r in reports if r.exc_info)
    return with_trace, len(reports) - with_trace


def arq_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("arq") and r.exc_info]


@pytest.fixture
def quick_retries(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> int:
    settings = app.state.runtime.settings
    monkeypatch.setattr(settings, "retry_backoff_seconds", 0.05)
    return int(settings.max_attempts)


@pytest.fixture
async def campaign(tenant: GraphQLClient) -> str:
    assert tenant.client_id
    return await tenant.create_campaign(tenant.client_id, "Faults")


async def test_a_bug_in_a_render_fails_the_sub_job_after_its_attempts(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    quick_retries: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    async def create(self: LocalProvider, model: str, input: Mapping[str, Any], **_: Any) -> Any:
        calls.append(model)
        raise Bug("a bug in the render, /secret/path/in/the/message")

    monkeypatch.setattr(LocalProvider, "create", create)
    caplog.set_level(logging.INFO)
    queued = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="a red sneaker")
    done = await wait_for_job(tenant, app, queued["id"], timeout=60)

    assert done["status"] == "FAILED"
    (sub,) = done["subJobs"]
    assert (sub["status"], sub["errorCode"], sub["attempts"]) == (
        "FAILED",
        "INTERNAL_ERROR",
        quick_retries,
    )
    assert len(calls) == quick_retries, "each attempt ran once"
    assert sub["error"].startswith("an internal error (ref ")
    assert "secret" not in sub["error"], "the error itself stays in the server log"
    assert done["errorCode"] == "SUBJOBS_FAILED"
    assert done["error"] == sub["error"], "the job says why"
    assert tracebacks(caplog, "run_sub_job of sub-job") == (1, quick_retries - 1)
    assert arq_failures(caplog) == []


async def test_a_bug_before_submission_counts_as_an_attempt(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    quick_retries: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Raised while the sub-job is still `queued` (its submission rolled back): the try
    counts all the same, or the sub-job would be run again forever. Redis refusing the
    provider-slot script is the trigger here."""

    async def acquire_slot(self: ArqBroker, pool: str, member: str, limit: int) -> bool:
        raise ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    monkeypatch.setattr(ArqBroker, "acquire_slot", acquire_slot)
    caplog.set_level(logging.INFO)
    queued = await launch(tenant, GENERATE_IMAGE, campaignId=campaign, prompt="a red sneaker")
    done = await wait_for_job(tenant, app, queued["id"], timeout=60)

    assert done["status"] == "FAILED"
    (sub,) = done["subJobs"]
    assert (sub["status"], sub["errorCode"], sub["attempts"]) == (
        "FAILED",
        "INTERNAL_ERROR",
        quick_retries,
    )
    assert done["startedAt"] is None, "it never ran"
    assert tracebacks(caplog, "run_sub_job of sub-job") == (1, quick_retries - 1)
    assert arq_failures(caplog) == []


async def test_a_bug_in_the_join_fails_the_job_after_its_attempts(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    samples: Samples,
    quick_retries: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    joins = []

    async def combine_clips(dest: Path, clips: list[Path], **_: Any) -> Any:
        joins.append(dest)
        raise Bug("a bug in the join")

    monkeypatch.setattr(combining, "combine_clips", combine_clips)
    caplog.set_level(logging.INFO)
    for i in range(2):
        await tenant.upload_ok(samples.png + bytes([i]), f"{i}.png", campaign_id=campaign)
    queued = await launch(
        tenant, PAIR_VIDEO, campaignId=campaign, numPairs=1, clipDuration=2, resolution="480p"
    )
    done = await wait_for_job(tenant, app, queued["id"], timeout=120)

    assert done["status"] == "FAILED"
    assert done["errorCode"] == "INTERNAL_ERROR"
    assert done["error"].startswith("combining failed: an internal error (ref ")
    assert [s["status"] for s in done["subJobs"]] == ["SUCCEEDED"], "the clips are kept"
    assert len(joins) == quick_retries
    assert tracebacks(caplog, "combine_job of job") == (1, quick_retries - 1)
    assert arq_failures(caplog) == []


async def test_a_selector_answer_that_breaks_the_storyboard_fails_the_job(
    tenant: GraphQLClient,
    app: Starlette,
    campaign: str,
    samples: Samples,
    quick_retries: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The selector (a provider: Grok in production) answers a score that is no number:
    the storyboard step trips over it, attempt after attempt, then the job fails."""
    answers = []

    async def select(
        self: OfflinePairSelector, images: list[ImageCandidate], *args: Any
    ) -> list[PairChoice]:
        answers.append(len(images))
        return [PairChoice(images[0].asset_id, images[1].asset_id, "high", "looks good")]  # type: ignore[arg-type]

    monkeypatch.setattr(OfflinePairSelector, "select", select)
    caplog.set_level(logging.INFO)
    for i in range(2):
        await tenant.upload_ok(samples.png + bytes([i]), f"{i}.png", campaign_id=campaign)
    queued = await launch(tenant, PAIR_VIDEO, campaignId=campaign, numPairs=1, clipDuration=2)
    done = await wait_for_job(tenant, app, queued["id"], timeout=60)

    assert (done["status"], done["errorCode"]) == ("FAILED", "INTERNAL_ERROR")
    assert done["error"].startswith("pair selection failed: an internal error (ref ")
    assert done["subJobs"] == [], "no storyboard was written"
    assert len(answers) == quick_retries
    assert tracebacks(caplog, "select_pairs of job") == (1, quick_retries - 1)
    assert arq_failures(caplog) == []
