"""`reelgraph watch` and `reelgraph demo`: follow a generation job live from a terminal.

`watch` follows the `jobProgress` subscription (gql.live_client) and draws a progress
bar per sub-job; `demo` (gql.demo) runs a whole pair video on the embedded default.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from gql.live_client import FINAL, Api, ApiError, job_events, stoppable

app = typer.Typer(help="Follow generation jobs live.", no_args_is_help=True)


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
        result = asyncio.run(stoppable(watch_job(url, key, job_id, console)))
    except (ApiError, httpx.HTTPError, OSError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc) or exc.__class__.__name__)}")
        raise typer.Exit(2) from None
    if result is None:
        raise typer.Exit(130)
    raise typer.Exit(result.exit_code)


# --- demo --------------------------------------------------------------------------------


if __name__ == "__main__":
    from gql.demo import demo

    app.command()(demo)
    app()
