"""The offline default: renders real media with ffmpeg for every catalog model, with
that model's own parameters, so every mutation works without a network."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from services import catalog
from services.media.ffmpeg_run import MediaError
from services.media.render import render_audio, render_clip, render_image
from services.providers.base import (
    Prediction,
    PredictionStatus,
    ProgressCallback,
    ProviderError,
    WebhookError,
)

DEFAULT_COLOURS = ["#1F2937", "#F59E0B"]


def file_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ProviderError(f"the local provider reads local files only, not {url!r}")
    return Path(unquote(parsed.path))


class LocalProvider:
    name = "local"
    # Its create is the render and costs nothing: one that died with its worker is
    # resumed by rendering again (`maintenance.resume_lost`).
    rerun_is_free = True

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._done: dict[str, Prediction] = {}

    async def create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        cancel_after: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Prediction:
        spec = catalog.MODELS.get(model)
        if spec is None:
            raise ProviderError(f"unknown model {model}")
        prediction_id = f"local-{uuid.uuid4().hex}"
        out_dir = self.work_dir / prediction_id
        out_dir.mkdir(parents=True)
        started = time.monotonic()
        try:
            output = await self._render(spec, input, out_dir, on_progress)
        except (MediaError, OSError, ValueError) as exc:
            shutil.rmtree(out_dir, ignore_errors=True)
            prediction = Prediction(
                id=prediction_id, status=PredictionStatus.FAILED, error=str(exc)
            )
        else:
            prediction = Prediction(
                id=prediction_id,
                status=PredictionStatus.SUCCEEDED,
                output=[output.as_uri()],
                progress=1.0,
                predict_time=time.monotonic() - started,
            )
        if prediction.status is PredictionStatus.SUCCEEDED:  # a failure is told once, here
            self._done[prediction_id] = prediction
        return prediction

    async def _render(
        self,
        spec: catalog.ModelSpec,
        data: Mapping[str, Any],
        out_dir: Path,
        on_progress: ProgressCallback | None,
    ) -> Path:
        prompt = str(data.get(spec.prompt_field or "prompt") or "")
        colours = list(data.get("brand_colors") or DEFAULT_COLOURS)
        width, height = spec.size(data.get("resolution"), data.get("aspect_ratio"))
        if spec.kind == "image":
            if data.get("aspect_ratio") is None and spec.image_field and data.get(spec.image_field):
                width, height = 1280, 720
            dest = out_dir / "image.png"
            await render_image(
                dest, prompt=prompt, width=width, height=height, colors=colours,
                on_progress=on_progress,
            )  # fmt: skip
            return dest
        duration = float(data.get(spec.duration_field or "", 0) or spec.default_duration or 5)
        if spec.kind == "audio":
            dest = out_dir / "audio.wav"
            await render_audio(dest, duration=duration, prompt=prompt, on_progress=on_progress)
            return dest
        first = self._image(spec.image_field, data)
        last = self._image(spec.last_image_field, data) or first
        if first is None:
            first = out_dir / "start.png"
            await render_image(first, prompt=prompt, width=width, height=height, colors=colours)
            last = first
        assert last is not None
        if spec.name == "kwaivgi/kling-v2.1" and data.get("mode") != "pro":
            last = first  # kling honours end_image in pro mode only
        if spec.name == "kwaivgi/kling-v2.1":
            height = 1080 if data.get("mode") == "pro" else 720
            width = height * 16 // 9
        if last == first:  # the same file twice confuses the filter graph: give it a copy
            last = out_dir / f"end{first.suffix}"
            shutil.copyfile(first, last)
        dest = out_dir / "video.mp4"
        fps = int(data.get("fps") or 24)
        await render_clip(
            dest, first=first, last=last, duration=duration, width=width, height=height, fps=fps,
            on_progress=on_progress,
        )  # fmt: skip
        return dest

    @staticmethod
    def _image(field: str | None, data: Mapping[str, Any]) -> Path | None:
        if field is None or not data.get(field):
            return None
        value = data[field]
        url = value[0] if isinstance(value, list) else value
        return file_path(str(url))

    async def get(self, prediction_id: str) -> Prediction:
        found = self._done.get(prediction_id)
        if found is None:
            # Local renders live in the worker that made them; after a restart, re-render.
            return Prediction(
                id=prediction_id,
                status=PredictionStatus.ABORTED,
                error="the local render was lost when its worker stopped",
            )
        return found

    async def cancel(self, prediction_id: str) -> Prediction:
        found = self._done.get(prediction_id)
        if found is not None and not found.status.terminal:
            found.status = PredictionStatus.CANCELED
        return found or Prediction(id=prediction_id, status=PredictionStatus.CANCELED)

    async def download(self, url: str, dest: Path) -> Path:
        source = file_path(url)
        if not source.exists():
            raise ProviderError("the local render's output is gone", retryable=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, dest)
        shutil.rmtree(source.parent, ignore_errors=True)
        self._done.pop(source.parent.name, None)
        return dest

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Prediction:
        raise WebhookError("the local provider sends no webhooks")

    def parse_prediction(self, data: Mapping[str, Any]) -> Prediction:
        raise ProviderError("the local provider's predictions have no JSON form")

    async def aclose(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)
