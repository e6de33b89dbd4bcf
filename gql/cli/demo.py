"""`reelgraph demo`: start the embedded app in-process (a free loopback port unless
--host/--port say otherwise), seed a client, a campaign and a few images, launch a pair
video, watch it to the end and save it. The server stops with the demo, which then says
so and prints no link to it; with --keep-serving it serves on until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from gql.cli.client import Api, ApiError
from gql.cli.terminal import console as make_console
from gql.cli.terminal import stoppable
from gql.cli.watch import WatchResult, watch_job
from gql.serving import serve_app
from services.runtime import Runtime
from services.settings import Settings

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
    host: str = "127.0.0.1",
    port: int = 0,
    keep_serving: bool = False,
) -> DemoResult:
    """Serve the app in-process, seed data through the API, launch a pair video, watch it,
    and copy the video into the data dir. Links are printed only while they are served."""
    from gql.app import create_app

    app_ = create_app(settings)
    async with contextlib.AsyncExitStack() as stack:
        try:
            served = serve_app(app_, host=host, port=port, ws="websockets-sansio")
            base_url = await stack.enter_async_context(served)
        except OSError as exc:
            raise DemoError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
        key = await _demo_key(app_.state.runtime)
        console.print(f"reelgraph demo: serving on {base_url} (data in {settings.data_dir})")
        console.print(f"admin key: {key}", markup=False)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            job_id = await _launch(Api(http, key), pairs, clip_duration, resolution, console)
            result = await watch_job(base_url, key, job_id, console, show_output_url=keep_serving)
            video = None
            if result.output_url:
                video = settings.data_dir / "demo" / f"pair-video-{_row_id(job_id)}.mp4"
                await _download(http, result.output_url, video)
                console.print(f"file: {video}", markup=False)
        if keep_serving:
            if settings.graphiql:
                console.print(f"GraphiQL: {base_url}/graphql", markup=False)
            console.print(f"dashboard: {base_url}/dashboard (paste the admin key)", markup=False)
            console.print(f"serving on {base_url} until Ctrl-C")
            await asyncio.Event().wait()
    console.print(
        "The demo's server has stopped. To look around its data, run "
        f"`reelgraph serve --data-dir {settings.data_dir}` and open the dashboard with the "
        "admin key above, or run `reelgraph demo --keep-serving`.",
        markup=False,
    )
    return DemoResult(watch=result, job_id=job_id, base_url=base_url, video_path=video)


class DemoError(Exception):
    """The demo cannot run here (its port is taken, ...)."""


async def _launch(
    api: Api, pairs: int, clip_duration: float, resolution: str, console: Console
) -> str:
    """Seed a client, a campaign and its images through the API; launch the pair video."""
    from services.media.render import render_image

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
            await api.upload(path.name, await asyncio.to_thread(path.read_bytes), campaign_id)
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
    job_id: str = launched["job"]["id"]
    return job_id


def _row_id(job_id: str) -> str:
    from gql import ids

    return str(ids.decode(job_id, "Job", "id"))


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


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Data directory (default: $REELGRAPH_DATA_DIR or ./.reelgraph).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port to listen on (0: any free port).")
    ] = 0,
    pairs: Annotated[int, typer.Option(metavar="N", help="Clips in the video.")] = 2,
    clip_duration: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds per clip.")] = 2,
    resolution: Annotated[
        str, typer.Option(metavar="RESOLUTION", help="480p, 720p or 1080p.")
    ] = "480p",
    keep_serving: Annotated[
        bool,
        typer.Option(
            help="Keep serving after the job (GraphiQL, the dashboard, the video) until "
            "Ctrl-C; without it the server stops when the video is saved."
        ),
    ] = False,
) -> None:
    """Run the whole loop offline: make a pair video, save it.

    Serve, seed a client, a campaign and images, launch a pair video, watch it, save it
    in the data dir. The server stops then (it says so), unless --keep-serving.

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
    console, err = make_console(), make_console(stderr=True)
    work = run_demo(
        settings,
        console,
        pairs=pairs,
        clip_duration=clip_duration,
        resolution=resolution,
        host=host,
        port=port,
        keep_serving=keep_serving,
    )
    try:
        result = asyncio.run(stoppable(work))
    except (DemoError, ApiError, httpx.HTTPError, OSError, RuntimeError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc) or exc.__class__.__name__)}")
        raise typer.Exit(2) from None
    if result is None:
        console.print("stopped")
        raise typer.Exit(130)
    raise typer.Exit(result.watch.exit_code)
