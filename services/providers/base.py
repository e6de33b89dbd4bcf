"""The one protocol every generation provider speaks (replicate, xai, local)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class PredictionStatus(enum.StrEnum):
    """Replicate's documented prediction statuses; every provider maps onto these."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        PredictionStatus.SUCCEEDED,
        PredictionStatus.FAILED,
        PredictionStatus.CANCELED,
        PredictionStatus.ABORTED,
    }
)


@dataclass(slots=True)
class Prediction:
    id: str
    status: PredictionStatus
    output: list[str] = field(default_factory=list)  # URLs: https://... or file://...
    error: str | None = None
    logs: str | None = None
    progress: float | None = None  # 0..1 when the provider tells, else None
    predict_time: float | None = None  # seconds of compute the provider billed
    raw: Mapping[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[float], Awaitable[None]]


class ProviderError(Exception):
    """The provider refused or failed a call. `retryable` says whether trying again may help;
    `throttled`, that the provider turned the call away for the account's rate limit (429):
    nothing was started, so the try does not count. `unsure`: a create's request went out
    and its answer was lost, so the prediction may exist."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        throttled: bool = False,
        unsure: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.throttled = throttled
        self.unsure = unsure


class WebhookError(Exception):
    """A webhook that failed verification (signature, timestamp) or could not be parsed."""


class Provider(Protocol):
    name: str

    async def create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        cancel_after: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Prediction: ...

    async def get(self, prediction_id: str) -> Prediction: ...

    async def cancel(self, prediction_id: str) -> Prediction: ...

    async def download(self, url: str, dest: Path) -> Path:
        """Copy one output into `dest` (a file path); returns it."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Prediction:
        """Verify and parse a webhook delivery; raise WebhookError when it is not genuine."""
        ...

    def parse_prediction(self, data: Mapping[str, Any]) -> Prediction:
        """A prediction in this provider's own JSON (the body of a verified webhook, handed
        from the API to a worker); ProviderError when it is not one."""
        ...

    async def aclose(self) -> None: ...
