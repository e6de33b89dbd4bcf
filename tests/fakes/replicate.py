"""A loopback Replicate: the documented prediction endpoints, output files, signed webhooks.

    fake = FakeReplicate(token="r8_test")
    fake.add_model("acme/video", FakeModel(mode="manual", files={"out.mp4": mp4_bytes}))
    async with serve_app(fake.app) as base_url:
        provider = ReplicateProvider("r8_test", base_url=f"{base_url}/v1", ...)

A model moves starting -> processing (tqdm-like log lines) -> its `outcome`, driven by the
test (`manual`: `advance`, `finish`, `abort`, ...), by the clock (`timed`) or by each GET of
the prediction (`per_poll`, for polling workers). `wait_for` waits on a condition, never on time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

UNSET: Any = object()
EVENTS = frozenset({"start", "output", "logs", "completed"})
DEFAULT_EVENTS = frozenset({"output", "completed"})  # Replicate's default without a filter
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
Endpoint = Literal["create", "get", "cancel", "file"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers for `body`, made with hmac (not the library under test)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class FakeModel:
    """How one model behaves."""

    mode: Literal["manual", "timed", "per_poll"] = "manual"
    duration: float = 0.0  # timed: seconds from create to the outcome
    steps: int = 4  # progress log lines while processing
    outcome: Literal["succeeded", "failed", "canceled", "aborted"] = "succeeded"
    error: str = "CUDA out of memory"
    files: Mapping[str, bytes] = field(default_factory=lambda: {"output.bin": b"fake output"})
    single: bool = True  # one file comes back as a bare URL string, like most media models
    data_uri: bool = False  # outputs as data: URIs instead of /files URLs
    output: Any = UNSET  # a raw JSON output (garbage) instead of the files
    required: tuple[str, ...] = ("prompt",)
    version: str = ""


@dataclass
class FakePrediction:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    behaviour: FakeModel
    base_url: str
    webhook: str | None = None
    events: frozenset[str] = DEFAULT_EVENTS
    cancel_after: str | None = None
    status: str = "starting"
    logs: str = ""
    output: Any = None
    error: str | None = None
    step: int = 0
    data_removed: bool = False
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        url = f"{self.base_url}v1/predictions/{self.id}"
        metrics: dict[str, float] = {}
        if self.completed_at is not None:
            metrics["total_time"] = self.completed_at - self.created_at
            if self.started_at is not None:
                metrics["predict_time"] = self.completed_at - self.started_at
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "logs": self.logs,
            "output": self.output,
            "data_removed": self.data_removed,
            "error": self.error,
            "status": self.status,
            "source": "api",
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "urls": {
                "get": url,
                "cancel": f"{url}/cancel",
                "web": f"https://replicate.com/p/{self.id}",
            },
            "metrics": metrics,
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Delivery:
    url: str
    event: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int | None = None  # the receiver's last answer; None when it could not be reached
    attempts: int = 0


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    detail: str


class FakeReplicate:
    def __init__(
        self,
        token: str = "r8_fake_token",
        webhook_secret: str | None = None,
        *,
        webhook_client: httpx.AsyncClient | None = None,
        webhook_attempts: int = 3,
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret or new_webhook_secret()
        self.webhook_attempts = webhook_attempts
        self._client = webhook_client  # ours (made on first use) when None
        self._owns_client = webhook_client is None
        self.models: dict[str, FakeModel] = {}
        self.predictions: dict[str, FakePrediction] = {}
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self._files: dict[tuple[str, str], bytes] = {}
        self._expired: dict[str, int] = {}  # prediction id ("*" for all) -> 404 or 410
        self._failures: dict[str, list[_Failure]] = {}
        self._truncate_files = 0
        self._create_gate: asyncio.Event | None = None
        self._answer_gate: asyncio.Event | None = None
        self.peak_running = 0  # the most predictions that were unfinished at once
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self._outboxes: dict[str, asyncio.Queue[Delivery]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._pending = 0  # webhooks queued and not yet delivered
        self._changed = asyncio.Event()
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)

    # -- set-up by the test --------------------------------------------------------------

    def add_model(self, name: str, model: FakeModel | None = None) -> FakeModel:
        model = model or FakeModel()
        model.version = model.version or hashlib.sha256(name.encode()).hexdigest()
        self.models[name] = model
        return model

    def fail_next(
        self,
        endpoint: Endpoint,
        status: int = 429,
        *,
        times: int = 1,
        retry_after: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `endpoint` with `status` (429: throttled, 5xx...)."""
        text = detail or (
            f"Request was throttled. Your rate limit resets in ~{retry_after or 30}s."
            if status == 429
            else "Internal server error"
        )
        failures = self._failures.setdefault(endpoint, [])
        failures.extend(_Failure(status, retry_after, text) for _ in range(times))

    def hold_creates(self) -> None:
        """Keep every create waiting, once recorded, until `release_creates`: a create
        that is under way."""
        self._create_gate = asyncio.Event()

    def hold_answers(self) -> None:
        """Make every prediction asked for, but keep the answer to its create until
        `release_creates`: a caller that gives up meanwhile never learns its id."""
        self._answer_gate = asyncio.Event()

    def release_creates(self) -> None:
        for gate in (self._create_gate, self._answer_gate):
            if gate is not None:
                gate.set()
        self._create_gate = self._answer_gate = None

    def truncate_next_file(self) -> None:
        """Cut the next file download off after its first chunk."""
        self._truncate_files += 1

    def expire(self, prediction_id: str | None = None, status: int = 404) -> None:
        """Delete output files (all when no id), as Replicate does after an hour."""
        self._expired[prediction_id or "*"] = status
        for prediction in self.predictions.values():
            if prediction_id in (None, prediction.id):
                prediction.data_removed = True

    # -- driving predictions -------------------------------------------------------------

    def prediction(self, prediction_id: str) -> FakePrediction:
        return self.predictions[prediction_id]

    def advance(self, prediction_id: str) -> FakePrediction:
        """One step: start, write the next progress line, or reach the model's outcome."""
        prediction = self.predictions[prediction_id]
        behaviour = prediction.behaviour
        if prediction.terminal:
            return prediction
        if prediction.status == "starting":
            if behaviour.outcome == "aborted":
                self._complete(prediction, "aborted")
            else:
                prediction.status = "processing"
                prediction.started_at = time.time()
                self.log(prediction_id, _tqdm(0, behaviour.steps))
        elif prediction.step < behaviour.steps:
            prediction.step += 1
            self.log(prediction_id, _tqdm(prediction.step, behaviour.steps))
        else:
            self.finish(prediction_id)
        return prediction

    def log(self, prediction_id: str, line: str) -> None:
        prediction = self.predictions[prediction_id]
        prediction.logs += line.rstrip("\n") + "\n"
        self._emit(prediction, "logs")
        self._notify()

    def finish(
        self,
        prediction_id: str,
        outcome: Literal["succeeded", "failed", "canceled"] | None = None,
        *,
        error: str | None = None,
        output: Any = UNSET,
    ) -> FakePrediction:
        prediction = self.predictions[prediction_id]
        if prediction.terminal:
            return prediction
        behaviour = prediction.behaviour
        outcome = outcome or ("canceled" if behaviour.outcome == "aborted" else behaviour.outcome)
        if prediction.started_at is None:
            prediction.started_at = time.time()
        if outcome == "succeeded":
            prediction.output = self._outputs(prediction) if output is UNSET else output
            self._emit(prediction, "output")
        elif outcome == "failed":
            prediction.error = error or behaviour.error
            prediction.logs += f"Traceback (most recent call last):\n{prediction.error}\n"
        self._complete(prediction, outcome)
        return prediction

    def abort(self, prediction_id: str) -> FakePrediction:
        """A deadline passed before the prediction started."""
        prediction = self.predictions[prediction_id]
        if prediction.status != "starting":
            raise ValueError(f"only a starting prediction can abort, not {prediction.status}")
        self._complete(prediction, "aborted")
        return prediction

    def cancel(self, prediction_id: str) -> FakePrediction:
        prediction = self.predictions[prediction_id]
        if not prediction.terminal:
            self._complete(prediction, "canceled")
        return prediction

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Return once `condition()` holds; it is checked after every change in the fake."""
        async with asyncio.timeout(within):
            while not condition():
                await self._changed.wait()

    async def wait_status(self, prediction_id: str, *statuses: str) -> FakePrediction:
        wanted = statuses or tuple(TERMINAL)
        await self.wait_for(lambda: self.predictions[prediction_id].status in wanted)
        return self.predictions[prediction_id]

    async def webhooks_sent(self) -> None:
        """Wait until every queued webhook was delivered (or gave up)."""
        await self.wait_for(lambda: self._pending == 0)

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def reset(self) -> None:
        """Forget everything (models included), as if the fake were new."""
        await self._stop()
        for store in (self.models, self.predictions, self._files, self._expired, self._failures):
            store.clear()
        self.requests.clear()
        self.deliveries.clear()
        self._truncate_files = 0
        self.release_creates()
        self.peak_running = 0

    async def aclose(self) -> None:
        await self._stop()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- internals -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    async def _stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = [*self._tasks, *self._senders.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._senders.clear()
        self._outboxes.clear()
        self._pending = 0

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _complete(self, prediction: FakePrediction, status: str) -> None:
        prediction.status = status
        prediction.completed_at = time.time()
        self._emit(prediction, "completed")
        self._notify()

    def _outputs(self, prediction: FakePrediction) -> Any:
        behaviour = prediction.behaviour
        if behaviour.output is not UNSET:
            return behaviour.output
        urls = []
        for name, data in behaviour.files.items():
            if behaviour.data_uri:
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                urls.append(f"data:{mime};base64,{base64.b64encode(data).decode()}")
            else:
                self._files[(prediction.id, name)] = data
                urls.append(f"{prediction.base_url}files/{prediction.id}/{name}")
        if not urls:
            return None
        return urls[0] if behaviour.single and len(urls) == 1 else urls

    def _emit(self, prediction: FakePrediction, event: str) -> None:
        if prediction.webhook is None or event not in prediction.events:
            return
        body = json.dumps(prediction.to_json()).encode()
        msg_id = "msg_" + secrets.token_hex(12)
        headers = sign_webhook(self.webhook_secret, msg_id, int(time.time()), body)
        # Like Replicate: each prediction's webhooks in order, predictions independently.
        outbox = self._outboxes.setdefault(prediction.id, asyncio.Queue())
        outbox.put_nowait(Delivery(prediction.webhook, event, json.loads(body), headers))
        self._pending += 1
        sender = self._senders.get(prediction.id)
        if sender is None or sender.done():
            self._senders[prediction.id] = asyncio.create_task(self._send_webhooks(outbox))

    async def _send_webhooks(self, outbox: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await outbox.get()
            body = json.dumps(delivery.body).encode()
            headers = {**delivery.headers, "content-type": "application/json"}
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=10.0)
            # Replicate retries the terminal delivery only; the others are sent once.
            allowed = self.webhook_attempts if delivery.event == "completed" else 1
            while delivery.attempts < allowed:
                delivery.attempts += 1
                try:
                    response = await self._client.post(delivery.url, content=body, headers=headers)
                except httpx.TransportError:
                    delivery.status = None
                    continue
                delivery.status = response.status_code
                if response.is_success:
                    break
            self.deliveries.append(delivery)
            self._pending -= 1
            self._notify()

    def _spawn(self, prediction: FakePrediction) -> None:
        behaviour = prediction.behaviour
        if behaviour.mode == "timed":
            task = asyncio.create_task(self._run_timed(prediction))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if prediction.cancel_after is not None:
            seconds = sum(
                float(n) * _UNITS[u] for n, u in _DURATION.findall(prediction.cancel_after)
            )
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(seconds, self._deadline, prediction.id))

    async def _run_timed(self, prediction: FakePrediction) -> None:
        pause = prediction.behaviour.duration / (prediction.behaviour.steps + 2)
        while not prediction.terminal:
            await asyncio.sleep(pause)
            self.advance(prediction.id)

    def _deadline(self, prediction_id: str) -> None:
        prediction = self.predictions.get(prediction_id)
        if prediction is not None and not prediction.terminal:
            self._complete(prediction, "aborted" if prediction.status == "starting" else "canceled")

    # -- HTTP ----------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/v1/models/{owner}/{name}/predictions", self._create, methods=["POST"]),
            Route("/v1/predictions", self._create, methods=["POST"]),
            Route("/v1/predictions/{id}", self._get, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", self._cancel, methods=["POST"]),
            Route("/v1/webhooks/default/secret", self._secret, methods=["GET"]),
            Route("/files/{id}/{name}", self._file, methods=["GET"]),
        ]

    async def _begin(self, request: Request, endpoint: Endpoint | None) -> Response | None:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.requests.append(
            RecordedRequest(request.method, request.url.path, dict(request.headers), body)
        )
        self._notify()
        if endpoint != "file" and request.headers.get("authorization") != f"Bearer {self.token}":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        failures = self._failures.get(endpoint or "", [])
        if failures:
            failure = failures.pop(0)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return _problem(failure.status, "Injected failure", failure.detail, headers)
        return None

    async def _create(self, request: Request) -> Response:
        if (refused := await self._begin(request, "create")) is not None:
            return refused
        if (gate := self._create_gate) is not None:
            await gate.wait()
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "Bad request", "The request body is not valid JSON")
        if "owner" in request.path_params:
            name = f"{request.path_params['owner']}/{request.path_params['name']}"
            model = self.models.get(name)
        else:
            version = body.get("version") if isinstance(body, dict) else None
            name, model = next(
                ((n, m) for n, m in self.models.items() if m.version == version), ("", None)
            )
        if model is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if problem := _invalid(body, model, request.headers.get("cancel-after")):
            return _problem(422, "Input validation failed", problem)
        prediction = FakePrediction(
            id=base64.b32encode(secrets.token_bytes(16)).decode().lower().rstrip("="),
            model=name,
            version=model.version,
            input=body["input"],
            behaviour=model,
            base_url=str(request.base_url),
            webhook=body.get("webhook"),
            events=frozenset(body.get("webhook_events_filter") or DEFAULT_EVENTS),
            cancel_after=request.headers.get("cancel-after"),
        )
        self.predictions[prediction.id] = prediction
        running = sum(not p.terminal for p in self.predictions.values())
        self.peak_running = max(self.peak_running, running)
        self._emit(prediction, "start")
        self._spawn(prediction)
        self._notify()
        if (gate := self._answer_gate) is not None:
            await gate.wait()
        return JSONResponse(prediction.to_json(), status_code=201)

    async def _get(self, request: Request) -> Response:
        if (refused := await self._begin(request, "get")) is not None:
            return refused
        prediction = self.predictions.get(request.path_params["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        if prediction.behaviour.mode == "per_poll":
            self.advance(prediction.id)
        return JSONResponse(prediction.to_json())

    async def _cancel(self, request: Request) -> Response:
        if (refused := await self._begin(request, "cancel")) is not None:
            return refused
        if request.path_params["id"] not in self.predictions:
            return _problem(404, "Not found", "The requested resource could not be found.")
        return JSONResponse(self.cancel(request.path_params["id"]).to_json())

    async def _secret(self, request: Request) -> Response:
        if (refused := await self._begin(request, None)) is not None:
            return refused
        return JSONResponse({"key": self.webhook_secret})

    async def _file(self, request: Request) -> Response:
        if (refused := await self._begin(request, "file")) is not None:
            return refused
        prediction_id, name = request.path_params["id"], request.path_params["name"]
        expired = self._expired.get(prediction_id) or self._expired.get("*")
        data = self._files.get((prediction_id, name))
        if expired or data is None:
            return Response("Not Found" if expired != 410 else "Gone", status_code=expired or 404)
        truncate = self._truncate_files > 0
        self._truncate_files -= int(truncate)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return StreamingResponse(_chunks(data, truncate), media_type=media_type)


async def _chunks(data: bytes, truncate: bool, size: int = 1 << 16) -> AsyncIterator[bytes]:
    for start in range(0, max(len(data), 1), size):
        yield data[start : start + size]
        if truncate:  # uvicorn drops the connection mid-body
            raise ConnectionAbortedError("the fake cut this download off")


def _invalid(body: Any, model: FakeModel, cancel_after: str | None) -> str | None:
    """The 422 detail Replicate would give, or None when the request is well formed."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        return "- input: Invalid type. Expected: object"
    missing = [name for name in model.required if name not in body["input"]]
    if missing:
        return "".join(f"- input: {name} is required\n" for name in missing).strip()
    webhook = body.get("webhook")
    if webhook is not None and not (isinstance(webhook, str) and webhook.startswith("http")):
        return "- webhook: must be an HTTPS URL"
    events = body.get("webhook_events_filter")
    if events is not None and not (isinstance(events, list) and set(events) <= EVENTS):
        return "- webhook_events_filter: must be a list of start, output, logs, completed"
    if cancel_after is not None and not re.fullmatch(f"(?:{_DURATION.pattern})+", cancel_after):
        return f"- Cancel-After: invalid duration {cancel_after!r}"
    return None


def _problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"title": title, "detail": detail, "status": status}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _tqdm(done: int, total: int) -> str:
    percent = 100 * done // total if total else 100
    bar = ("#" * (percent // 10)).ljust(10)
    return f"{percent:3d}%|{bar}| {done}/{total} [00:0{done}<00:0{total - done}, 4.00it/s]"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
