"""Relay global IDs: base64("Type:uuid"), decoded with a typed error naming the field."""

from __future__ import annotations

import re
import uuid
from binascii import b2a_base64
from collections.abc import Sequence

from strawberry import relay

from services.errors import InvalidInput, NotFound


def noun(type_name: str) -> str:
    """How messages name a type: "Client" -> "client", "SubJob" -> "sub-job"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type_name).lower()


def encode(type_name: str, row_id: uuid.UUID | str) -> str:
    """`str(relay.GlobalID(type_name, str(row_id)))`, without building the GlobalID: a page
    makes one per node."""
    return b2a_base64(f"{type_name}:{row_id}".encode(), newline=False).decode()


def parse(value: str) -> relay.GlobalID | None:
    """The type name and node id a global ID holds; None when `value` is not one."""
    try:
        return relay.GlobalID.from_id(value)
    except ValueError:  # GlobalIDValueError: not base64, not "Type:id"
        return None


def decode(value: str, type_name: str, field: str) -> uuid.UUID:
    """The row id inside a global ID of `type_name`; for anything else the NotFound a
    missing row gets ("no such client"), so a made-up ID tells nothing more."""
    try:
        gid = relay.GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError(gid.type_name)
        return uuid.UUID(gid.node_id)
    except Exception:
        raise NotFound(f"no such {noun(type_name)}", field=field) from None


def decode_optional(value: str | None, type_name: str, field: str) -> uuid.UUID | None:
    return None if value is None else decode(value, type_name, field)


def decode_list(
    values: Sequence[str], type_name: str, field: str, *, limit: int
) -> list[uuid.UUID]:
    """A list of global IDs, refused whole when it is longer than `limit` (before any is
    decoded: a caller may send thousands)."""
    if len(values) > limit:
        raise InvalidInput(f"at most {limit}", field=field)
    return [decode(v, type_name, field) for v in values]
