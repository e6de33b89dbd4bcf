"""Machinery of the fuzz suite (tests/security/test_fuzz.py): running Hypothesis against
the app on the session's event loop, value strategies for the schema's scalars, and the
oracles (no 5xx, a JSON GraphQL body, nothing masked or logged, nothing half-written).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from sqlalchemy import func, select

from db.models import ApiKey, Asset, Campaign, Client, Job, JobEvent, SubJob
from services import catalog
from services.runtime import Runtime

T = TypeVar("T")

EXAMPLES: Counter[str] = Counter()
"""Examples run per test, for the session's "N fuzz examples" line."""
ACCEPTED: Counter[str] = Counter()
"""Examples per test that some root field answered with a payload (not an error)."""

NODE_TYPES = ("Client", "Campaign", "Asset", "Job", "SubJob", "JobEvent", "Viewer", "Query", "")
JSON_MEDIA = ("application/json", "application/graphql-response+json")


class LoopBridge:
    """Hypothesis runs a sync test; the app lives on pytest-asyncio's session loop.

    The async test hands the whole Hypothesis run to a worker thread
    (`asyncio.to_thread`) and so leaves its loop free; each example then submits its
    coroutine back to that loop and blocks the worker thread until it is done. The app,
    its engine pools and Redis connections only ever run on the loop that made them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 120) -> None:
        self.loop = loop
        self.timeout = timeout

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout)


class ErrorLog(logging.Handler):
    """ERROR records the app logs while an example runs: a masked internal error is logged
    by gql.error_masking, an escaped exception by Starlette or the ASGI server. Strawberry's own
    `strawberry.execution` logger repeats every client error (syntax, validation) at ERROR
    and is therefore left out."""

    IGNORED = ("strawberry.execution",)

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name not in self.IGNORED:
            self.records.append(record)

    def take(self) -> list[str]:
        out = [
            f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
            for r in self.records
        ]
        self.records.clear()
        return out


@contextmanager
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --- oracles ---------------------------------------------------------------------------

TABLES = (Client, Campaign, Asset, Job, SubJob, JobEvent, ApiKey)


async def row_counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.session_factory() as session:
        stmt = select(
            *(
                select(func.count()).select_from(model).scalar_subquery().label(model.__tablename__)
                for model in TABLES
            )
        )
        row = (await session.execute(stmt)).one()
        return {key: int(value) for key, value in row._mapping.items()}


def media_files(root: Path) -> frozenset[str]:
    if not root.exists():
        return frozenset()
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def response_problems(
    response: httpx.Response | BaseException, logged: list[str], *, html_ok: bool = False
) -> list[str]:
    """Why this answer breaks the contract; empty when it keeps it. (`html_ok`: a 200
    text/html answer, GraphiQL for a browser's GET, is no error.)"""
    if isinstance(response, BaseException):
        return [f"unhandled exception (a 500 behind a real server): {response!r}"]
    problems = [f"logged: {line}" for line in logged]
    if response.status_code >= 500:
        problems.append(f"status {response.status_code}")
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if html_ok and response.status_code == 200 and media == "text/html":
        return problems
    try:
        body = response.json()
    except ValueError:
        body = None
    if media not in JSON_MEDIA or not isinstance(body, dict):
        problems.append(
            f"not a JSON GraphQL body ({response.status_code} {media}): {response.text[:200]!r}"
        )
        return problems
    if "data" not in body and "errors" not in body:
        problems.append(f"neither data nor errors: {body!r:.200}")
    for error in body.get("errors") or []:
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        if message.startswith("Internal server error") or code == "INTERNAL_SERVER_ERROR":
            problems.append(f"masked internal error: {message}")
    return problems


def root_typenames(body: Any) -> list[str | None]:
    """The `__typename` of each root field's payload (None for a null one)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return []
    return [v.get("__typename") if isinstance(v, dict) else None for v in data.values()]


def wrote_nothing_expected(response: httpx.Response | BaseException) -> bool:
    """True when every root mutation field failed, so nothing may have been written."""
    if isinstance(response, BaseException):
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    names = root_typenames(body)
    return all(name in (None, "UserError") for name in names)


def with_root_typenames(document: graphql.DocumentNode) -> str:
    """hypothesis-graphql's `print_ast`: adds `__typename` to every root field that has a
    selection set, so an example can tell a payload from a `UserError`. (AST nodes are
    frozen dataclasses, shared with Hypothesis' caches: copies are made, never edits.)"""
    typename = graphql.FieldNode(name=graphql.NameNode(value="__typename"))

    def root(selection: graphql.SelectionNode) -> graphql.SelectionNode:
        if not isinstance(selection, graphql.FieldNode) or selection.selection_set is None:
            return selection
        inner = selection.selection_set
        selections = (typename, *inner.selections)
        return dataclasses.replace(
            selection, selection_set=dataclasses.replace(inner, selections=selections)
        )

    definitions = [
        dataclasses.replace(
            d,
            selection_set=dataclasses.replace(
                d.selection_set, selections=tuple(root(s) for s in d.selection_set.selections)
            ),
        )
        if isinstance(d, graphql.OperationDefinitionNode)
        else d
        for d in document.definitions
    ]
    return graphql.print_ast(dataclasses.replace(document, definitions=tuple(definitions)))


# --- values ----------------------------------------------------------------------------


def gid(type_name: str, node_id: object) -> str:
    return base64.b64encode(f"{type_name}:{node_id}".encode()).decode()


def cursor(created: object, ident: object) -> str:
    raw = json.dumps([created, ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def global_ids(pool: Sequence[str]) -> st.SearchStrategy[str]:
    """Real global IDs of rows (from a fixture), and near misses of every kind."""
    forged = st.builds(
        gid,
        st.sampled_from(NODE_TYPES) | st.text(max_size=12),
        st.uuids().map(str) | st.text(max_size=40) | st.integers().map(str),
    )
    raw_b64 = st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
    choices: list[st.SearchStrategy[str]] = [forged, raw_b64, st.text(max_size=60)]
    if pool:
        real = st.sampled_from(list(pool))
        choices = [real, real, real, *choices]
    return st.one_of(*choices)


def id_nodes(pool: Sequence[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return global_ids(pool).map(nodes.String) | st.integers().map(nodes.Int)


def interesting_strings() -> list[str]:
    models = list(catalog.MODELS.values())
    out = {m.name for m in models}
    for m in models:
        out.update(m.resolutions, m.aspect_ratios, m.modes, (m.kind,))
    out.update(
        {
            "",
            " ",
            "fade",
            "none",
            "wipeleft",
            "#1A2B3C",
            "#fff",
            "https://example.com/product",
            "http://[::1]:99999/",
            "javascript:alert(1)",
            "ftp://example.com",
            "a" * 300,
            "../../etc/passwd",
            "\x00",
            "\u202e",
            cursor(datetime.now(UTC).isoformat(), str(uuid.uuid4())),
            cursor("2024-01-01T00:00:00", str(uuid.uuid4())),  # naive
            cursor("2024-01-01T00:00:00+00:00", 5),
            cursor(5, str(uuid.uuid4())),
            cursor("9999-12-31T23:59:59+14:00", "not-a-uuid"),
            cursor("0001-01-01T00:00:00-14:00", str(uuid.uuid4())),
            base64.urlsafe_b64encode(b'{"a": 1, "b": 2}').decode(),
            base64.urlsafe_b64encode(b"[[1], {}]").decode(),
        }
    )
    return sorted(out)


def cursors() -> st.SearchStrategy[str]:
    """Cursors as `services.pagination` makes them, from parts right, wrong or missing."""
    moments = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
    part = st.one_of(moments, st.uuids().map(str), st.integers(), st.none(), st.text(max_size=8))
    return st.builds(cursor, part, part) | st.lists(part, max_size=3).map(
        lambda parts: base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()
    )


def string_nodes() -> st.SearchStrategy[graphql.ValueNode]:
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
    return st.one_of(text, st.sampled_from(interesting_strings()), cursors()).map(nodes.String)


DECIMAL_TEXT = (
    "0",
    "12.5",
    "-1",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1e999999999",
    "1E+1000000000",
    "1e-999999999",
    "0.000000001",
    "999999999.999",
    "1000000000.01",
    "1_000",
    "0x10",
    " 5 ",
    "",
    "abc",
)


def decimal_nodes() -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(
        st.sampled_from(DECIMAL_TEXT).map(nodes.String),
        st.decimals(allow_nan=False, allow_infinity=False).map(nodes.String),
        st.text(max_size=20).map(nodes.String),
        st.integers().map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
    )


def json_values() -> st.SearchStrategy[Any]:
    """JSON documents as Python values, strings with NUL and surrogates included."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers() | st.integers(min_value=2**63, max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(["\x00", "\ud800", "a\u0000b", "\udfff\ud800"]),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=10) | st.just("\x00"), inner, max_size=4)
        ),
        max_leaves=20,
    )


def to_value_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([to_value_node(v) for v in value])
    fields = [
        graphql.ObjectFieldNode(name=graphql.NameNode(value=f"k{i}"), value=to_value_node(v))
        for i, v in enumerate(value.values())
    ]
    return nodes.Object(fields)


def json_nodes() -> st.SearchStrategy[graphql.ValueNode]:
    # Literal strings cannot hold a lone surrogate: graphql-core's printer would refuse.
    literal = json_values().filter(lambda v: "\\ud" not in json.dumps(v).lower())
    return literal.map(to_value_node)


def custom_scalars(pool: Sequence[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return {
        "ID": id_nodes(pool),
        "String": string_nodes(),
        "Decimal": decimal_nodes(),
        "JSON": json_nodes(),
        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat())),
        "Date": st.dates().map(lambda d: nodes.String(d.isoformat()))
        | st.text(max_size=12).map(nodes.String),
        # A file only arrives through a multipart request (test_multipart_uploads); as a
        # literal it is always a mistake, which must still be a 4xx.
        "Upload": st.text(max_size=20).map(nodes.String) | st.integers().map(nodes.Int),
    }
