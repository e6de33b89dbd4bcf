"""`reelgraph watch` and `reelgraph demo`: follow a generation job live from a terminal.

`watch` speaks graphql-transport-ws to /graphql (the `jobProgress` subscription, resumed
after the last `seq` when a connection drops) and draws a progress bar per sub-job.
`demo` starts the embedded app in-process on a free loopback port, seeds a client, a
campaign and a few images, launches a pair video and watches it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from services.runtime import Runtime
from services.settings import Settings

T = TypeVar("T")
FINAL = frozenset({"succeeded", "failed", "canceled"})
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
EVENT_FIELDS = """jobId subJobId subJobIndex seq type status progress message costUsd
  outputAssetId etaSeconds"""
JOB_PROGRESS = f"""subscription($jobId: ID!, $afterSeq: Int) {{
  jobProgress(jobId: $jobId, afterSeq: $afterSeq) {{ {EVENT_FIELDS} }} }}"""
JOB = """query($id: ID!) { node(id: $id) { __typename ... on Job {
  id kind status costEstimateUsd costActualUsd errorCode error lastSeq
  outputAsset { id kind url }
  subJobs { id index model status progress costUsd error } } } }"""

app = typer.Typer(help="Follow generation jobs live.", no_args_is_help=True)


class ApiError(Exception):
    """The server said no: a GraphQL error, a `UserError` payload, a refused socket."""


def ws_url(base_url: str) -> str:
    scheme, _, rest = base_url.rstrip("/").partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/graphql"


def _errors_text(errors: Any) -> str:
    if isinstance(errors, list) and errors:
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return str(errors)


class Api:
    """GraphQL over HTTP with an API key (enough for the CLI's few requests)."""

    def __init__(self, http: httpx.AsyncClient, key: str) -> None:
        self.http, self.key = http, key

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}", "Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            raise ApiError(f"HTTP {response.status_code}: {response.text[:200]}") from None
        if response.status_code != 200 or body.get("errors"):
            raise ApiError(_errors_text(body.get("errors")) or f"HTTP {response.status_code}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The payload of a one-field mutation; a `UserError` raises ApiError."""
        (payload,) = (await self.execute(query, {"input": input})).values()
        if "code" in payload:
            raise ApiError(f"{payload['code']}: {payload.get('message')}")
        result: dict[str, Any] = payload
        return result

    async def upload(self, filename: str, content: bytes, campaign_id: str) -> str:
        operations = {
            "query": UPLOAD,
            "variables": {"input": {"file": None, "campaignId": campaign_id}},
        }
        response = await self.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": '{"0": ["variables.input.file"]}'},
            files={"0": (filename, content, "application/octet-stream")},
            headers={"Authorization": f"Bearer {self.key}", "Apollo-Require-Preflight": "true"},
        )
        body = response.json()
        payload = (body.get("data") or {}).get("uploadAsset") or {}
        if "asset" not in payload:
            raise ApiError(payload.get("message") or _errors_text(body.get("errors")))
        asset_id: str = payload["asset"]["id"]
        return asset_id

    async def job(self, job_id: str) -> dict[str, Any]:
        node = (await self.execute(JOB, {"id": job_id}))["node"]
        if node is None or node.get("__typename") != "Job":
            raise ApiError(f"no job {job_id} for this key")
        job: dict[str, Any] = node
        return job


class _Dropped(Exception):
    """The socket closed before the subscription completed."""


async def job_events(
    base_url: str,
    key: str,
    job_id: str,
    after_seq: int = 0,
    *,
    retries: int = 5,
    notify: Callable[[str], None] = lambda text: None,
) -> AsyncIterator[dict[str, Any]]:
    """`jobProgress` events after `after_seq`, until the job ends. A dropped connection
    is reopened (up to `retries` times in a row) and resumes after the last `seq` seen.
    `notify` hears about each connection made or lost."""
    last, failures = after_seq, 0
    while True:
        try:
            async with connect(
                ws_url(base_url), subprotocols=[TRANSPORT_WS], open_timeout=10
            ) as ws:
                variables = {"jobId": job_id, "afterSeq": last}
                acked = functools.partial(notify, f"live: following events after {last}")
                async for event in _operation(ws, key, JOB_PROGRESS, variables, acked):
                    failures, last = 0, max(last, int(event["seq"]))
                    yield event
                return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code is not None and 4000 <= code < 5000:  # the server refused: not worth a retry
                reason = exc.rcvd.reason if exc.rcvd else ""
                raise ApiError(f"the server closed the subscription ({code} {reason})") from None
            problem = f"connection lost (close code {code})" if code else "connection lost"
        except InvalidStatus as exc:
            raise ApiError(f"WebSocket refused: HTTP {exc.response.status_code}") from None
        except (_Dropped, InvalidHandshake, OSError, TimeoutError) as exc:
            problem = f"connection lost ({exc.__class__.__name__})"
        failures += 1
        if failures > retries:
            raise ApiError(f"{problem}; gave up after {retries} retries")
        notify(f"{problem}: reconnecting, resuming after event {last}")
        await asyncio.sleep(min(0.25 * 2**failures, 5.0))  # backoff before reconnecting


async def _operation(
    ws: ClientConnection,
    key: str,
    query: str,
    variables: dict[str, Any],
    on_ack: Callable[[], None],
) -> AsyncIterator[dict[str, Any]]:
    """One graphql-transport-ws subscription on a fresh socket: init, subscribe, events."""
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    async for raw in ws:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "connection_ack":
            on_ack()
            payload = {"query": query, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        elif kind == "next":
            if message["payload"].get("errors"):
                raise ApiError(_errors_text(message["payload"]["errors"]))
            yield next(iter(message["payload"]["data"].values()))
        elif kind == "error":
            raise ApiError(_errors_text(message.get("payload")))
        elif kind == "complete":
            return
    raise _Dropped


def _usd(value: Any) -> str:
    return f"${Decimal(str(value)):.3f}" if value is not None else "-"


@dataclass
class WatchResult:
    status: str
    output_url: str | None
    output_kind: str | None
    cost_usd: Decimal
    error: str | None

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "succeeded" else 1


class JobView:
    """A job in the terminal: a bar for the job and one per sub-job, a line per change."""

    def __init__(self, console: Console, job: dict[str, Any]) -> None:
        self.console = console
        self.status = job["status"].lower()
        self.estimate = _usd(job["costEstimateUsd"])
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=28),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            TextColumn("[dim]{task.fields[note]}"),
            console=console,
        )
        self.job_task = self.progress.add_task(
            f"job {job['kind'].lower()}", total=1.0, status=self.status, note=self.estimate
        )
        self.subs: dict[str, TaskID] = {}
        self.sub_progress: dict[str, float] = {}
        self.sub_status: dict[str, str] = {}
        self.sub_label: dict[str, str] = {}
        self.console.print(
            f"job {escape(job['id'])}: {job['kind'].lower()}, {self.status}, "
            f"estimate {self.estimate}"
        )
        self.add_sub_jobs(job["subJobs"])

    def __enter__(self) -> JobView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def note(self, text: str) -> None:
        self.progress.console.print(f"[dim]{escape(text)}[/]")

    def knows(self, sub_job_id: str) -> bool:
        return sub_job_id in self.subs

    def add_sub_jobs(self, subs: list[dict[str, Any]]) -> None:
        for sub in sorted(subs, key=lambda s: int(s["index"])):
            if sub["id"] not in self.subs:
                status = sub["status"].lower()
                self._add_sub(sub["id"], int(sub["index"]), sub.get("model"), status)
                self._set_sub(sub["id"], status, sub.get("progress"))
                self.progress.update(self.subs[sub["id"]], note=_usd(sub["costUsd"]))

    def _add_sub(self, sub_id: str, index: int, model: str | None, status: str) -> None:
        label = f"#{index}" + (f" {model.rsplit('/', 1)[-1]}" if model else "")
        self.sub_label[sub_id] = label
        self.sub_status[sub_id] = status
        self.subs[sub_id] = self.progress.add_task(f"  {label}", total=1.0, status=status, note="")
        self.console.print(f"sub-job {label}: {escape(sub_id)} ({status})")

    def _set_sub(self, sub_id: str, status: str, progress: float | None) -> None:
        if progress is not None:
            self.sub_progress[sub_id] = progress
        self.sub_status[sub_id] = status
        self.progress.update(
            self.subs[sub_id], completed=self.sub_progress.get(sub_id, 0.0), status=status
        )
        if self.status not in ("combining", "succeeded") and self.sub_progress:
            overall = sum(self.sub_progress.values()) / len(self.subs)
            self.progress.update(self.job_task, completed=overall)

    def apply(self, event: dict[str, Any]) -> None:
        kind, status, progress = event["type"], event["status"], event.get("progress")
        sub_id = event.get("subJobId")
        if kind.startswith("subjob.") and sub_id:
            if sub_id not in self.subs:
                self._add_sub(sub_id, int(event.get("subJobIndex") or 0), None, "")
            changed = status != self.sub_status[sub_id]
            self._set_sub(sub_id, status, progress)
            notes = [_usd(event["costUsd"])] if event.get("costUsd") is not None else []
            if event.get("etaSeconds") is not None and status not in FINAL:
                notes.append(f"~{float(event['etaSeconds']):.0f}s left")
            if notes:
                self.progress.update(self.subs[sub_id], note=" ".join(notes))
            if kind == "subjob.status" and changed:
                self._line(self.sub_label[sub_id], status, event)
        elif kind == "job.progress" and progress is not None:
            self.progress.update(self.job_task, completed=progress, note=event.get("message") or "")
        elif kind == "job.status":
            self.status = status
            actual = _usd(event.get("costUsd"))
            self.progress.update(self.job_task, status=status, note=f"{actual} of {self.estimate}")
            if status == "succeeded":
                self.progress.update(self.job_task, completed=1.0)
            self._line("job", status, event)

    def _line(self, who: str, status: str, event: dict[str, Any]) -> None:
        style = {"succeeded": "green", "failed": "red", "canceled": "yellow"}.get(status, "cyan")
        text = f"{escape(who)} [{style}]{status}[/]"
        if status in FINAL and event.get("costUsd") is not None:
            text += f" ({_usd(event['costUsd'])})"
        if event.get("message") and status in ("failed", "canceled", "queued"):
            text += f": {escape(str(event['message']))}"
        self.progress.console.print(text)


async def watch_job(base_url: str, key: str, job_id: str, console: Console) -> WatchResult:
    """Draw `job_id`'s progress until it ends; the final state, output URL included."""
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30) as http:
        api = Api(http, key)
        job = await api.job(job_id)
        with JobView(console, job) as view:
            if job["status"].lower() not in FINAL:
                events = job_events(base_url, key, job_id, int(job["lastSeq"]), notify=view.note)
                async for event in events:
                    if event.get("subJobId") and not view.knows(event["subJobId"]):
                        view.add_sub_jobs((await api.job(job_id))["subJobs"])  # names, models
                    view.apply(event)
            final = await api.job(job_id)
            view.add_sub_jobs(final["subJobs"])
        return _report(console, final)


def _report(console: Console, job: dict[str, Any]) -> WatchResult:
    status = job["status"].lower()
    for sub in job["subJobs"]:
        if sub.get("error"):
            console.print(f"[red]sub-job #{sub['index']} error:[/] {escape(sub['error'])}")
    if job.get("error"):
        console.print(
            f"[red]job error ({escape(job.get('errorCode') or '-')}):[/] {escape(job['error'])}"
        )
    style = "green" if status == "succeeded" else "red"
    console.print(
        f"[{style}]{status}[/]: cost {_usd(job['costActualUsd'])} "
        f"(estimate {_usd(job['costEstimateUsd'])})"
    )
    output = job.get("outputAsset") or {}
    if output.get("url"):
        label = "video" if output.get("kind") == "VIDEO" else "output"
        console.print(f"{label}: {output['url']}", markup=False)
    return WatchResult(
        status=status,
        output_url=output.get("url"),
        output_kind=output.get("kind"),
        cost_usd=Decimal(str(job["costActualUsd"])),
        error=job.get("error"),
    )


def _console() -> Console:
    return Console(soft_wrap=True, highlight=False)


Url = Annotated[str, typer.Option("--url", envvar="REELGRAPH_URL", help="The server's base URL.")]
Key = Annotated[str | None, typer.Option("--key", envvar="REELGRAPH_API_KEY", help="An API key.")]


@app.command()
def watch(
    job_id: Annotated[str, typer.Argument(help="The job's ID.")],
    url: Url = "http://127.0.0.1:8000",
    key: Key = None,
) -> None:
    """Follow a job live: a bar per sub-job, status changes, costs, the video URL.

    Exits 0 when the job succeeds, 1 when it fails or is canceled, 2 on an error."""
    console = _console()
    if not key:
        console.print("[red]error:[/] give --key or set REELGRAPH_API_KEY")
        raise typer.Exit(2)
    try:
        result = asyncio.run(_stoppable(watch_job(url, key, job_id, console)))
    except (ApiError, httpx.HTTPError, OSError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc) or exc.__class__.__name__)}")
        raise typer.Exit(2) from None
    if result is None:
        raise typer.Exit(130)
    raise typer.Exit(result.exit_code)


# --- demo --------------------------------------------------------------------------------

UPLOAD = """mutation($input: UploadAssetInput!) { uploadAsset(input: $input) {
  ... on AssetPayload { asset { id } } ... on Error { code message } } }"""
CREATE_CLIENT = """mutation($input: CreateClientInput!) { createClient(input: $input) {
  ... on ClientPayload { client { id } } ... on Error { code message } } }"""
CREATE_CAMPAIGN = """mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
  ... on CampaignPayload { campaign { id } } ... on Error { code message } } }"""
PAIR_VIDEO = """mutation($input: CreateVideoFromImagePairsInput!) {
  createVideoFromImagePairs(input: $input) {
    ... on JobPayload { job { id costEstimateUsd } } ... on Error { code message } } }"""

BRAND = [("#0E7C86", "teal"), ("#F2C14E", "saffron"), ("#1F2A44", "ink")]
SHOTS = [
    "Morning pour-over, steam rising",
    "The bag of beans on a sunny counter",
    "A runner with a takeaway cup",
    "Friends laughing over flat whites",
]


@dataclass
class DemoResult:
    watch: WatchResult
    job_id: str
    base_url: str
    video_path: Path | None


async def run_demo(
    settings: Settings,
    console: Console,
    *,
    pairs: int = 2,
    clip_duration: float = 2,
    resolution: str = "480p",
    keep_serving: bool = False,
) -> DemoResult:
    """Serve the app in-process, seed data through the API, launch a pair video, watch it,
    and copy the video into the data dir."""
    from gql import ids
    from gql.app import create_app
    from services.media.render import render_image

    app_ = create_app(settings)
    async with _serve(app_) as base_url:
        key = await _demo_key(app_.state.runtime)
        console.print(f"reelgraph demo: {base_url} (data in {settings.data_dir.resolve()})")
        console.print(f"admin key: {key}", markup=False)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            api = Api(http, key)
            client = await api.mutate(
                CREATE_CLIENT,
                {
                    "name": "Demo Coffee Co.",
                    "homepage": "https://coffee.example",
                    "brandGuidelines": {
                        "colors": [{"hex": h, "name": n} for h, n in BRAND],
                        "tone": "warm, upbeat",
                        "dos": ["show the product in daylight"],
                        "donts": ["no competitor cups"],
                    },
                },
            )
            campaign = await api.mutate(
                CREATE_CAMPAIGN,
                {
                    "clientId": client["client"]["id"],
                    "name": "Spring launch",
                    "goal": "awareness",
                    "audience": "city commuters",
                    "budgetUsd": "5",
                },
            )
            campaign_id = campaign["campaign"]["id"]
            with tempfile.TemporaryDirectory(prefix="reelgraph-demo-") as tmp:
                for i, shot in enumerate(SHOTS):
                    path = Path(tmp) / f"shot-{i + 1}.png"
                    colors = [h for h, _ in BRAND[i % 2 :]]
                    await render_image(path, prompt=shot, width=854, height=480, colors=colors)
                    await api.upload(
                        path.name, await asyncio.to_thread(path.read_bytes), campaign_id
                    )
            console.print(f"seeded client, campaign {campaign_id} and {len(SHOTS)} images")
            launched = await api.mutate(
                PAIR_VIDEO,
                {
                    "campaignId": campaign_id,
                    "numPairs": pairs,
                    "clipDuration": clip_duration,
                    "resolution": resolution,
                    "transition": "fade",
                },
            )
            job_id = launched["job"]["id"]
            result = await watch_job(base_url, key, job_id, console)
            video = None
            if result.output_url:
                video = (
                    settings.data_dir / "demo" / f"pair-video-{ids.decode(job_id, 'Job', 'id')}.mp4"
                )
                await _download(http, result.output_url, video)
                console.print(f"file: {video.resolve()}", markup=False)
        if keep_serving:
            if any(getattr(route, "path", None) == "/dashboard" for route in app_.routes):
                console.print(f"dashboard: {base_url}/dashboard (paste the admin key)")
            console.print(f"serving on {base_url} until Ctrl-C")
            await asyncio.Event().wait()
    return DemoResult(watch=result, job_id=job_id, base_url=base_url, video_path=video)


async def _demo_key(runtime: Runtime) -> str:
    from services import api_keys
    from services.uow import unit_of_work

    async with unit_of_work(runtime.session_factory) as session:
        issued = await api_keys.create_key(session, admin=True, name="demo")
        return issued.secret


async def _download(http: httpx.AsyncClient, url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        with dest.open("wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)


class _Server(uvicorn.Server):
    """uvicorn that says when it listens and leaves Ctrl-C to asyncio.run (which cancels
    the demo, whose cleanup stops the server)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:  # uvicorn exits when the lifespan startup fails
            self.should_exit = True
            return
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _serve(asgi: ASGIApp) -> AsyncIterator[str]:
    """Run `asgi` with uvicorn on a free loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = _Server(
        uvicorn.Config(
            asgi, log_level="warning", ws="websockets-sansio", timeout_graceful_shutdown=5
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not server.ready.is_set():
            await serving
            raise RuntimeError("the app failed to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        ready.cancel()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sock.close()


@app.command()
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Data directory (default: $REELGRAPH_DATA_DIR or ./.reelgraph)."
        ),
    ] = None,
    pairs: Annotated[int, typer.Option(help="Clips in the video.")] = 2,
    clip_duration: Annotated[float, typer.Option(help="Seconds per clip.")] = 2,
    resolution: Annotated[str, typer.Option(help="480p, 720p or 1080p.")] = "480p",
    keep_serving: Annotated[
        bool, typer.Option(help="Keep the server running after the job (Ctrl-C stops it).")
    ] = False,
) -> None:
    """Run the whole loop offline: serve, seed, launch a pair video, watch it, save it.

    Always on the embedded default (SQLite, embedded Redis, in-process worker, `local`
    provider), whatever DATABASE_URL or REDIS_URL say."""
    overrides: dict[str, Any] = {
        "database_url": None,
        "redis_url": None,
        "run_worker": True,
        "generation_provider": "local",
    }
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)
    console = _console()
    work = run_demo(
        settings,
        console,
        pairs=pairs,
        clip_duration=clip_duration,
        resolution=resolution,
        keep_serving=keep_serving,
    )
    try:
        result = asyncio.run(_stoppable(work))
    except (ApiError, httpx.HTTPError, OSError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc) or exc.__class__.__name__)}")
        raise typer.Exit(2) from None
    if result is None:
        console.print("stopped")
        raise typer.Exit(130)
    raise typer.Exit(result.watch.exit_code)


async def _stoppable(work: Coroutine[Any, Any, T]) -> T | None:
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


if __name__ == "__main__":
    app()
