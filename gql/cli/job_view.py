"""A job drawn in a terminal: a bar for the job and one per sub-job, a line per change."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from gql.cli.client import FINAL
from gql.cli.terminal import usd


class JobView:
    """A job in the terminal: a bar for the job and one per sub-job, a line per change."""

    def __init__(self, console: Console, job: dict[str, Any]) -> None:
        self.console = console
        self.status = job["status"].lower()
        self.estimate = usd(job["costEstimateUsd"])
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
                self.progress.update(self.subs[sub["id"]], note=usd(sub["costUsd"]))

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
            notes = [usd(event["costUsd"])] if event.get("costUsd") is not None else []
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
            actual = usd(event.get("costUsd"))
            self.progress.update(self.job_task, status=status, note=f"{actual} of {self.estimate}")
            if status == "succeeded":
                self.progress.update(self.job_task, completed=1.0)
            self._line("job", status, event)

    def _line(self, who: str, status: str, event: dict[str, Any]) -> None:
        style = {"succeeded": "green", "failed": "red", "canceled": "yellow"}.get(status, "cyan")
        text = f"{escape(who)} [{style}]{status}[/]"
        if status in FINAL and event.get("costUsd") is not None:
            text += f" ({usd(event['costUsd'])})"
        if event.get("message") and status in ("failed", "canceled", "queued"):
            text += f": {escape(str(event['message']))}"
        self.progress.console.print(text)
