"""`reelgraph demo`: start the embedded app in-process on a free loopback port, seed a
client, a campaign and a few images, launch a pair video and watch it to the end."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from gql.cli_live import WatchResult, _console, watch_job
from gql.live_client import Api, ApiError, stoppable
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
    keep_serving: bool = False,
) -> DemoResult:
    """Serve the app in-process, seed data through the API, launch a pair video, watch it,
    and copy the video into the data dir."""
    from gql import ids
    from gql.app import create_app
    from services.media.render import render_image

    app_ = create_app(settings)
    async with serve_app(app_, ws="websockets-sansio") as base_url:
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
        result = asyncio.run(stoppable(work))
    except (ApiError, httpx.HTTPError, OSError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc) or exc.__class__.__name__)}")
        raise typer.Exit(2) from None
    if result is None:
        console.print("stopped")
        raise typer.Exit(130)
    raise typer.Exit(result.watch.exit_code)
