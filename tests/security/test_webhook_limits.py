"""The Replicate webhook reads no body it would refuse: an unsigned or stale delivery is
refused before its body is read, and a signed one stops at the size cap. What is left
of a refused body is dropped up to the cap (so the sender can read the answer), past
it left unread with `Connection: close`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from gql.app import create_app
from services.settings import Settings
from tests.fakes.replicate import new_webhook_secret, sign_webhook
from tests.security.test_http_hostile import CHUNK, GB, chunks, drive

SECRET = new_webhook_secret()
CAP = 32 * 1024
PATH = "/webhooks/replicate"


@pytest.fixture(scope="module")
async def hooked(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Starlette]:
    """An app that takes Replicate webhooks of at most CAP bytes."""
    app = create_app(
        settings.model_copy(
            update={
                "data_dir": tmp_path_factory.mktemp("webhook-limits"),
                "redis_prefix": f"reelgraph-hooks-{uuid.uuid4().hex[:8]}",
                "run_worker": False,
                "replicate_webhook_secret": SECRET,
                "max_webhook_bytes": CAP,
            }
        )
    )
    async with app.router.lifespan_context(app):
        yield app


def signed(body: bytes, *, age: float = 0) -> dict[str, str]:
    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = sign_webhook(SECRET, msg_id, int(time.time() - age), body)
    return {**headers, "content-type": "application/json"}


def prediction(**fields: object) -> bytes:
    return json.dumps({"id": f"p{uuid.uuid4().hex}", "status": "processing", **fields}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))},
        {"webhook-id": "msg_1", "webhook-timestamp": "soon", "webhook-signature": "v1,x"},
        {"webhook-id": "msg_1", "webhook-timestamp": "nan", "webhook-signature": "v1,x"},
    ],
    ids=["unsigned", "no signature", "bad timestamp", "nan timestamp"],
)
async def test_an_unsigned_delivery_is_refused_before_its_body_is_read(
    hooked: Starlette, headers: dict[str, str]
) -> None:
    size = 200 * 1024**2
    declared = {**headers, "content-length": str(size)}
    answer = await drive(hooked, "POST", PATH, declared, chunks(b"{", size))
    assert (answer.status, answer.pulled) == (401, 0)
    assert json.loads(answer.body)["code"] == "WEBHOOK_REJECTED"
    assert answer.headers["connection"] == "close"

    chunked = await drive(hooked, "POST", PATH, headers, chunks(b"{", size))
    assert chunked.status == 401
    assert chunked.pulled <= CAP + 2 * CHUNK
    assert chunked.headers["connection"] == "close"


async def test_a_stale_delivery_is_refused_before_its_body_is_read(hooked: Starlette) -> None:
    body = prediction()
    answer = await drive(hooked, "POST", PATH, signed(body, age=3600), iter([body]))
    assert answer.status == 401
    assert "connection" not in answer.headers  # a short body: dropped, connection kept


async def test_a_declared_length_over_the_cap_is_refused_at_once(hooked: Starlette) -> None:
    body = prediction(logs="x" * 3 * CAP)
    headers = {**signed(body), "content-length": str(len(body))}
    answer = await drive(hooked, "POST", PATH, headers, iter([body]))
    assert (answer.status, answer.pulled) == (413, 0)
    assert json.loads(answer.body)["code"] == "REQUEST_TOO_LARGE"


async def test_a_body_over_the_cap_stops_mid_stream(hooked: Starlette) -> None:
    headers = signed(b"never signed over: it is refused for its size first")
    answer = await drive(hooked, "POST", PATH, headers, chunks(b'{"logs": "', GB, b"x" * CHUNK))
    assert answer.status == 413
    assert json.loads(answer.body)["code"] == "REQUEST_TOO_LARGE"
    assert CAP < answer.pulled <= 2 * CAP + 2 * CHUNK
    assert answer.headers["connection"] == "close"


async def test_a_signed_delivery_within_the_cap_is_taken(hooked: Starlette) -> None:
    body = prediction(logs="y" * (CAP // 2))
    answer = await drive(hooked, "POST", PATH, signed(body), iter([body[:1000], body[1000:]]))
    assert answer.status == 200
    assert "connection" not in answer.headers
    assert json.loads(answer.body) == {"status": "unknown prediction"}
    assert answer.pulled == len(body)

    forged = await drive(hooked, "POST", PATH, signed(b"other"), iter([body]))
    assert forged.status == 401
