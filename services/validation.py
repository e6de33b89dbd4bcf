"""Input rules shared by the services; each failure names the offending field."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError

from services.errors import InvalidInput

_URL = TypeAdapter(HttpUrl)
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_METADATA_BYTES = 16 * 1024


def name(value: str, field: str = "name", max_length: int = 200) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput("must not be empty", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return cleaned


def optional_text(value: str | None, field: str, max_length: int = 10_000) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return cleaned or None


def url(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = _URL.validate_python(value.strip())
    except ValidationError:
        raise InvalidInput("must be an absolute http(s) URL", field=field) from None
    text = str(parsed)
    if len(text) > 2048:
        raise InvalidInput("must be at most 2048 characters", field=field)
    return text


def colour(value: str, field: str) -> str:
    if not _HEX.match(value.strip()):
        raise InvalidInput("must be a hex colour like #1A2B3C", field=field)
    return value.strip().upper()


def money(value: Decimal | None, field: str) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise InvalidInput("must be a non-negative amount", field=field)
    if value > Decimal("1000000000"):
        raise InvalidInput("is too large", field=field)
    return value.quantize(Decimal("0.01"))


def metadata(value: Any, field: str = "metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field=field)
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise InvalidInput(f"must be at most {MAX_METADATA_BYTES} bytes of JSON", field=field)
    return value


def string_list(values: list[str] | None, field: str, max_items: int = 50) -> list[str]:
    cleaned = [v.strip() for v in values or [] if v.strip()]
    if len(cleaned) > max_items:
        raise InvalidInput(f"must have at most {max_items} entries", field=field)
    return [optional_text(v, field, 500) or "" for v in cleaned]
