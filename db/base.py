"""Declarative base: naming convention, portable column types, timestamp mixins."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Enum,
    Integer,
    MetaData,
    Numeric,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 4, asdecimal=True)
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "sqlite":  # the text SQLite holds, in C: a third of the time
            return _utc_from_sqlite
        if dialect.driver == "asyncpg" and coltype == _TIMESTAMPTZ:
            return None  # asyncpg reads a timestamptz as an aware UTC datetime already
        return super().result_processor(dialect, coltype)


_TIMESTAMPTZ = 1184
"""PostgreSQL's type OID of `timestamp with time zone`, which asyncpg reports as a
column's type code (a `timestamp` without one, 1114, reads naive and is made UTC)."""


def _utc_from_sqlite(value: str | None) -> datetime | None:
    """SQLAlchemy's SQLite DATETIME text ("2026-12-05 10:11:12.123456"), as UTC. Parsed
    with its offset appended: 0.16 us, against 0.83 us parsed naive and then given
    `tzinfo` with `replace` (a page of 1,000 assets reads 1,000 of them)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # not as SQLAlchemy stores them: an offset already, say
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


_new = object.__new__
_set = object.__setattr__


INTERNED_UUIDS = 1 << 14
"""UUIDs read from SQLite kept by their text; past that many, the table starts over."""
_interned: dict[str, uuid.UUID] = {}


class _ReadUUID(uuid.UUID):
    """A UUID read from SQLite, keeping its canonical text: a page of 1,000 assets
    writes each asset's id two or three times (its global id, its URL, a cursor), and
    `UUID.__str__` formats it anew each time (0.47 us, against 0.05 us). It is a
    `uuid.UUID` in every other way, and pickles and copies as one."""

    __slots__ = ("_text",)
    _text: str

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"UUID('{self._text}')"

    def __reduce__(self) -> tuple[type[uuid.UUID], tuple[str]]:
        return uuid.UUID, (self._text,)


def _uuid_from_hex(value: str | None) -> uuid.UUID | None:
    """`uuid.UUID(hex=value)` for the 32 hex digits SQLite holds, by setting what its
    `__init__` sets (tests/test_library_contracts.py pins that): a page of 1,000 assets
    reads 4,000 of them, and the constructor's parsing was a tenth of the page.

    A UUID is immutable, so one object serves every read of the same text: a page's
    rows repeat their campaign's and client's ids on every row, and pages are read
    again. A lookup costs 0.06 us, a new UUID 0.7 us. (A dict's get and set are atomic:
    the read threads share the table.)"""
    if value is None:
        return None
    found = _interned.get(value)
    if found is not None:
        return found
    if len(value) != 32:
        return uuid.UUID(value)  # not as we store them: the constructor's checks
    made = _new(_ReadUUID)
    _set(made, "int", int(value, 16))
    _set(made, "is_safe", uuid.SafeUUID.unknown)
    _set(made, "_text", uuid.UUID.__str__(made))  # the stdlib's text, formatted once
    if len(_interned) >= INTERNED_UUIDS:
        _interned.clear()
    _interned[value] = made
    return made


class FastUuid(Uuid[uuid.UUID]):
    """`Uuid`, read faster from SQLite's CHAR(32) (PostgreSQL's driver makes its own)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "sqlite":
            return _uuid_from_hex
        inherited: Any = Uuid.result_processor  # untyped in SQLAlchemy's annotations
        return inherited(self, dialect, coltype)


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR + CHECK enum: the same DDL on SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        Decimal: Money,
        datetime: UTCDateTime(),
        uuid.UUID: FastUuid(),
    }


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
