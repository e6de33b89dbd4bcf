"""One client for xAI's OpenAI-compatible chat completions API, answering in strict JSON.

`XaiChat.json_answer` sends the messages with a strict JSON schema
(`response_format: {"type": "json_schema", "json_schema": {..., "strict": true}}`) and
returns the model's answer decoded, or raises `LlmError`: transport failures, timeouts,
408, 429 and 5xx are retryable (with the provider's Retry-After when given), other 4xx
are not, and so is an answer that is refused, cut off, empty or not JSON. Callers still
validate the decoded answer: a schema is a request, not a guarantee.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from typing import Any

import httpx

from services.llm import LlmError

DEFAULT_BASE_URL = "https://api.x.ai/v1"
DEFAULT_MODEL = "grok-4-1-fast-non-reasoning"


class XaiChat:
    """Chat completions with a strict JSON schema, over one (possibly shared) httpx client."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 120.0,
    ) -> None:
        if not api_key:
            raise ValueError("an xAI API key is required")
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def request_body(
        self, messages: list[dict[str, Any]], schema_name: str, schema: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            },
        }

    async def json_answer(
        self, messages: list[dict[str, Any]], schema_name: str, schema: dict[str, Any]
    ) -> Any:
        """The model's answer to `messages`, decoded from the JSON the schema asks for."""
        completion = await self._post(self.request_body(messages, schema_name, schema))
        content = _message_content(completion)
        try:
            return json.loads(content)
        except ValueError as exc:
            raise LlmError(f"the model's answer is not valid JSON: {content[:120]!r}") from exc

    async def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            response = await self._http.post(self._url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise LlmError("xAI request timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise LlmError(f"xAI unreachable: {exc}", retryable=True) from exc
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise LlmError("xAI answered with a body that is not JSON") from exc


def _status_error(response: httpx.Response) -> LlmError:
    status = response.status_code
    message = f"xAI returned {status}: {_api_message(response)}"
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return LlmError(message, retryable=True, retry_after=retry_after)
    return LlmError(message)


def _api_message(response: httpx.Response) -> str:
    """The error text from xAI's body: {"error": "..."} or OpenAI's {"error": {"message"}}."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str) and error:
            return error[:300]
        if isinstance(data.get("message"), str):
            return str(data["message"])[:300]
    return json.dumps(data)[:300]


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _message_content(answer: Any) -> str:
    """choices[0].message.content, unless the model refused, was cut off or said nothing."""
    try:
        choice = answer["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LlmError("xAI's answer has no choices[0].message") from exc
    if not isinstance(message, dict):
        raise LlmError("xAI's answer has no choices[0].message")
    if message.get("refusal"):
        raise LlmError(f"the model refused: {str(message['refusal'])[:200]}")
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        raise LlmError("the model's answer was cut off (finish_reason=length)")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise LlmError("the model's answer is empty")
    return content
