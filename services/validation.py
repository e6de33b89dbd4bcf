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
# Control characters other than tab, line feed and carriage return (C0, DEL, C1), and
# unpaired UTF-16 surrogates: PostgreSQL rejects NUL in text and UTF-8 cannot encode half
# a surrogate pair, so without this check they fail at the write, as an internal error.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def plain_text(value: str, field: str) -> str:
    """`value` unchanged, if it is text a database can store; every text helper checks it."""
    if found := _CONTROL.search(value):
        raise InvalidInput(
            f"must not contain control characters (found U+{ord(found.group()):04X})", field=field
        )
    if _SURROGATE.search(value):
        raise InvalidInput("must be valid Unicode text (found an unpaired surrogate)", field=field)
    return value


def name(value: str, field: str = "name", max_length: int = 200) -> str:
    cleaned = plain_text(value, field).strip()
    if not cleaned:
        raise InvalidInput("must not be empty", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return cleaned


def optional_text(value: str | None, field: str, max_length: int = 10_000) -> str | None:
    if value is None:
        return None
    cleaned = plain_text(value, field).strip()
    if len(cleaned) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return cleaned or None


def url(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = plain_text(value, field).strip()
    try:
        parsed = _URL.validate_python(cleaned)
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
    cleaned = [plain_text(v, field).strip() for v in values or []]
    cleaned = [v for v in cleaned if v]
    if len(cleaned) > max_items:
        raise InvalidInput(f"must have at most {max_items} entries", field=field)
    return [optional_text(v, field, 500) or "" for v in cleaned]
