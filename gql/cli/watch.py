"""`reelgraph watch JOB_ID`: follow a job live until it ends; the exit code says how."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from gql.cli.client import FINAL, Api, ApiError, job_events
from gql.cli.job_view import JobView
from gql.cli.terminal import console, stoppable, usd

DEFAULT_URL = "http://127.0.0.1:8000"
UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)


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


async def watch_job(
    base_url: str, key: str, job_id: str, out: Console, *, show_output_url: bool = True
) -> WatchResult:
    """Draw `job_id`'s progress until it ends; the final state, output URL included (printed
    unless `show_output_url` is false: a caller about to stop the server prints no link)."""
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30) as http:
        api = Api(http, key)
        job = await api.job(job_id)
        with JobView(out, job) as view:
            if job["status"].lower() not in FINAL:
                events = job_events(base_url, key, job_id, int(job["lastSeq"]), notify=view.note)
                async for event in events:
                    if event.get("subJobId") and not view.knows(event["subJobId"]):
                        view.add_sub_jobs((await api.job(job_id))["subJobs"])  # names, models
                    view.apply(event)
            final = await api.job(job_id)
            view.add_sub_jobs(final["subJobs"])
        return report(out, final, show_output_url=show_output_url)


def report(out: Console, job: dict[str, Any], *, show_output_url: bool = True) -> WatchResult:
    status = job["status"].lower()
    for sub in job["subJobs"]:
        if sub.get("error"):
            out.print(f"[red]sub-job #{sub['index']} error:[/] {escape(sub['error'])}")
    if job.get("error"):
        out.print(
            f"[red]job error ({escape(job.get('errorCode') or '-')}):[/] {escape(job['error'])}"
        )
    style = "green" if status == "succeeded" else "red"
    out.print(
        f"[{style}]{status}[/]: cost {usd(job['costActualUsd'])} "
        f"(estimate {usd(job['costEstimateUsd'])})"
    )
    output = job.get("outputAsset") or {}
    if output.get("url") and show_output_url:
        label = "video" if output.get("kind") == "VIDEO" else "output"
        out.print(f"{label}: {output['url']}", markup=False)
    return WatchResult(
        status=status,
        output_url=output.get("url"),
        output_kind=output.get("kind"),
        cost_usd=Decimal(str(job["costActualUsd"])),
        error=job.get("error"),
    )


def watch(
    job_id: Annotated[
        str,
        typer.Argument(metavar="JOB_ID", help="The job's ID, as launching it answered."),
    ],
    url: Annotated[
        str,
        typer.Option("--url", metavar="URL", envvar="REELGRAPH_URL", help="The server's base URL."),
    ] = DEFAULT_URL,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", envvar="REELGRAPH_API_KEY", help="An API key."),
    ] = None,
) -> None:
    """Follow a job live: progress bars, costs, the video URL.

    A bar per sub-job and a line per status change, until the job ends.

    Exits 0 when the job succeeds, 1 when it fails or is canceled, 2 on an error."""
    out, err = console(), console(stderr=True)
    if not key:
        err.print("[red]error:[/] give --key or set REELGRAPH_API_KEY")
        raise typer.Exit(2)
    try:
        result = asyncio.run(stoppable(watch_job(url, key, job_id, out)))
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        err.print(f"[red]error:[/] --url {escape(url)} is not a URL such as {DEFAULT_URL}")
        raise typer.Exit(2) from None
    except UNREACHABLE as exc:
        err.print(f"[red]error:[/] cannot reach a reelgraph server at {escape(url)} ({_why(exc)})")
        err.print(
            "Is `reelgraph serve` running there? Give its address with --url or REELGRAPH_URL."
        )
        raise typer.Exit(2) from None
    except (httpx.HTTPError, OSError) as exc:
        err.print(f"[red]error:[/] {escape(url)}: {_why(exc)}")
        raise typer.Exit(2) from None
    except ApiError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if result is None:
        raise typer.Exit(130)
    raise typer.Exit(result.exit_code)


def _why(exc: BaseException) -> str:
    return escape(str(exc) or exc.__class__.__name__)
