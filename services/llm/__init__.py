"""Large language models reached over HTTP, and the one error they raise."""

from __future__ import annotations


class LlmError(Exception):
    """A model call failed. `retryable` says whether trying again may help; `retry_after`
    (seconds) is the provider's hint when it gave one."""

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
