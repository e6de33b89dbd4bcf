"""The plain ceiling for `graph_bench`: the database driver, hand-written SQL, orjson.

No ORM and no GraphQL. asyncpg (a pool) on PostgreSQL, aiosqlite (a few connections
with the app's pragmas) on SQLite; SQLAlchemy is never imported, so the server's RSS
is the plain stack's own.

- `POST /page` with `{"clients": 5, "campaigns": 10, "assets": 20}` answers the
  `{"data": ...}` document of graph_bench's campaign-page query, and
- `POST /one` with `{"first": 1}` the answer to
  `{ clients(first: 1) { edges { node { id name } } } }`.

The Bearer key is checked as `services.api_keys.authenticate` does (SHA-256 of the
secret, looked up by its prefix, revoked keys refused; a client key sees its client
only). Then one statement per level: clients with their stats, campaigns with theirs
(first + 1 per client), assets (first + 1 per campaign). PostgreSQL takes the
per-parent `first` with LATERAL; SQLite, which has no LATERAL, with a correlated
`rowid IN (... LIMIT n)` per parent, which reads 4x fewer rows than ROW_NUMBER()
over every child; SQLite answers the assets (text and integers only) as one JSON array
made in one step, as the GraphQL app asks it to (services/driver_reads.py): stepped
row by row, the driver gives up the GIL for each of 1,050 rows. The JSON is what
Strawberry writes: Relay ids, enum names, money as `str(Decimal)` rounded as
services/stats.py rounds it, cursors as services/pagination.py encodes them, and
signed media URLs (services/media_urls.py) from a precomputed HMAC state.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

import aiosqlite
import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.settings import Settings

JSONDict = dict[str, Any]
Row = Sequence[Any]
Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Row]]]
CENTS = Decimal("0.0001")
POOL_SIZE = 10  # the app engine's pool_size


@dataclass(slots=True)
class Trace:
    """What the driver ran (asyncpg's query logger, SQLite's trace callback)."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0


# -- SQL ------------------------------------------------------------------------------

AUTH = "SELECT key_hash, role, client_id FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL"
NEWEST = "ORDER BY created_at DESC, id DESC"
CLIENT_STATS = (
    "SELECT count(*) FROM campaigns k WHERE k.client_id = c.id",
    "SELECT count(*) FROM assets a WHERE a.client_id = c.id AND a.kind = 'video'",
    "SELECT sum(j.cost_actual_usd) FROM campaigns k JOIN jobs j ON j.campaign_id = k.id "
    "WHERE k.client_id = c.id",
)
# Stats for the page's rows only: the extra row that tells hasNextPage gets NULLs.
CLIENTS = (
    "SELECT c.id, c.name, c.created_at, "
    + ", ".join(f"CASE WHEN c.rn <= $1 THEN ({s}) END" for s in CLIENT_STATS)
    + " FROM (SELECT id, name, created_at, row_number() OVER ("
    + NEWEST
    + ") AS rn FROM clients {where}"
    + NEWEST
    + " LIMIT $1 + 1) c ORDER BY c.rn"
)
ONE = "SELECT id, name FROM clients {where}" + NEWEST + " LIMIT $1"
CAMPAIGNS_PG = f"""
SELECT c.client_id, c.id, c.name, c.status, c.budget_usd, c.created_at, v.n, j.n, j.spend, j.avg
FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ord)
CROSS JOIN LATERAL (
    SELECT client_id, id, name, status, budget_usd, created_at,
           row_number() OVER ({NEWEST}) AS rn
    FROM campaigns WHERE client_id = p.id {NEWEST} LIMIT $2 + 1) c
LEFT JOIN LATERAL (
    SELECT count(*) AS n FROM assets a
    WHERE a.campaign_id = c.id AND a.kind = 'video' AND c.rn <= $2) v ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS n, sum(cost_actual_usd) AS spend,
           avg(cost_actual_usd) FILTER (WHERE status = 'succeeded') AS avg
    FROM jobs WHERE campaign_id = c.id AND c.rn <= $2) j ON true
ORDER BY p.ord, c.rn"""
ASSETS_PG = f"""
SELECT a.campaign_id, a.id, a.kind, a.mime_type, a.width, a.height, a.created_at
FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ord)
CROSS JOIN LATERAL (
    SELECT campaign_id, id, kind, mime_type, width, height, created_at,
           row_number() OVER ({NEWEST}) AS rn
    FROM assets WHERE campaign_id = p.id {NEWEST} LIMIT $2 + 1) a
ORDER BY p.ord, a.rn"""
# SQLite: no LATERAL. The stats of the (at most one per client) extra campaign are
# computed too: cheaper than the window function that would tell it apart.
CAMPAIGNS_SQLITE = f"""
SELECT c.client_id, c.id, c.name, c.status, c.budget_usd, c.created_at,
    (SELECT count(*) FROM assets a WHERE a.campaign_id = c.id AND a.kind = 'video'),
    (SELECT count(*) FROM jobs j WHERE j.campaign_id = c.id),
    (SELECT sum(j.cost_actual_usd) FROM jobs j WHERE j.campaign_id = c.id),
    (SELECT avg(j.cost_actual_usd) FILTER (WHERE j.status = 'succeeded')
     FROM jobs j WHERE j.campaign_id = c.id)
FROM json_each(?1) AS p CROSS JOIN campaigns c
WHERE c.rowid IN (SELECT rowid FROM campaigns WHERE client_id = p.value {NEWEST} LIMIT ?2 + 1)
ORDER BY p.key, c.created_at DESC, c.id DESC"""
ASSETS_SQLITE = f"""
SELECT a.campaign_id, a.id, a.kind, a.mime_type, a.width, a.height, a.created_at
FROM json_each(?1) AS p CROSS JOIN assets a
WHERE a.rowid IN (SELECT rowid FROM assets WHERE campaign_id = p.value {NEWEST} LIMIT ?2 + 1)
ORDER BY p.key, a.created_at DESC, a.id DESC"""
# The same rows as one JSON array, made by SQLite in one step (the driver gives up the
# GIL for each row it steps to); as the GraphQL app reads them (services/driver_reads.py).
ASSETS_SQLITE_JSON = (
    "WITH w(c0, c1, c2, c3, c4, c5, c6) AS ("
    + ASSETS_SQLITE
    + ") SELECT json_group_array(json_array(c0, c1, c2, c3, c4, c5, c6)) FROM w"
)


def _scoped(sql: str, scoped: bool) -> str:
    return sql.format(where="WHERE id = $2 " if scoped else "")


def _sqlite(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)


def _stats_money(value: object) -> str:
    """services/stats.py `_money`: str, then four places (half-even)."""
    return str(Decimal(str(value or 0)).quantize(CENTS))


# -- the two drivers ------------------------------------------------------------------


class Database(Protocol):
    """One driver: its SQL texts, how its values read, and its connections."""

    auth: str
    campaigns: str
    assets: str

    def clients(self, scoped: bool) -> str: ...
    def one(self, scoped: bool) -> str: ...
    def connection(self) -> AbstractAsyncContextManager[Fetch]: ...
    def text_id(self, value: Any) -> str: ...
    def ids(self, values: list[Any]) -> Any: ...
    def timestamp(self, value: Any) -> datetime: ...
    def column_money(self, value: Any) -> str | None: ...
    def sum_money(self, value: Any) -> str: ...
    async def close(self) -> None: ...


class Postgres:
    auth = AUTH
    campaigns = CAMPAIGNS_PG
    assets = ASSETS_PG

    def __init__(self, pool: Any, trace: Trace | None) -> None:
        self.pool = pool
        self.trace = trace
        self._clients = {s: _scoped(CLIENTS, s) for s in (False, True)}
        self._one = {s: _scoped(ONE, s) for s in (False, True)}

    @classmethod
    async def open(cls, dsn: str, trace: Trace | None) -> Postgres:
        async def init(conn: Any) -> None:
            if trace is not None:
                conn.add_query_logger(lambda q: trace.statements.append(q.query))

        async def no_reset(conn: Any) -> None:
            """asyncpg's default reset is one more round trip per release (UNLISTEN,
            RESET ALL, ...) undoing what this app never does; a transaction left
            open is still rolled back before this is called."""

        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=POOL_SIZE, init=init, reset=no_reset
        )
        return cls(pool, trace)

    def clients(self, scoped: bool) -> str:
        return self._clients[scoped]

    def one(self, scoped: bool) -> str:
        return self._one[scoped]

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Fetch]:
        async with self.pool.acquire() as conn:
            if self.trace is not None:
                self.trace.checkouts += 1

            async def fetch(sql: str, args: Sequence[Any]) -> Sequence[Row]:
                rows: Sequence[Row] = await conn.fetch(sql, *args)
                return rows

            yield fetch

    def text_id(self, value: Any) -> str:
        return str(value)

    def ids(self, values: list[Any]) -> Any:
        return values

    def timestamp(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]  # timestamptz: aware, UTC

    def column_money(self, value: Any) -> str | None:
        return None if value is None else str(value)  # numeric(14, 4): Decimal

    def sum_money(self, value: Any) -> str:
        return _stats_money(value)

    async def close(self) -> None:
        await self.pool.close()


class Sqlite:
    """UUIDs are CHAR(32) hex, datetimes naive UTC text, Numeric a REAL or INTEGER:
    read back as SQLAlchemy's types read them (db/base.py, Numeric(14, 4))."""

    auth = _sqlite(AUTH)
    campaigns = CAMPAIGNS_SQLITE
    assets = ASSETS_SQLITE_JSON

    def __init__(self, path: str, trace: Trace | None) -> None:
        self.path = path
        self.trace = trace
        self._clients = {s: _sqlite(_scoped(CLIENTS, s)) for s in (False, True)}
        self._one = {s: _sqlite(_scoped(ONE, s)) for s in (False, True)}
        self._open: list[aiosqlite.Connection] = []
        self._idle: list[aiosqlite.Connection] = []  # last in, first out: warm ones
        self._slots = asyncio.Semaphore(POOL_SIZE)  # connections opened on demand

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, timeout=30)
        for pragma in (  # db/engine.py's
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            await conn.execute(f"PRAGMA {pragma}")
        if self.trace is not None:
            await conn.set_trace_callback(self.trace.statements.append)
        self._open.append(conn)
        return conn

    def clients(self, scoped: bool) -> str:
        return self._clients[scoped]

    def one(self, scoped: bool) -> str:
        return self._one[scoped]

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Fetch]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            if self.trace is not None:
                self.trace.checkouts += 1

            async def fetch(sql: str, args: Sequence[Any]) -> Sequence[Row]:
                rows = cast(Sequence[Row], await conn.execute_fetchall(sql, args))  # a list
                if sql is ASSETS_SQLITE_JSON:
                    return cast(Sequence[Row], orjson.loads(rows[0][0]))
                return rows

            try:
                yield fetch
            finally:
                self._idle.append(conn)

    def text_id(self, value: Any) -> str:
        h: str = value
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ids(self, values: list[Any]) -> Any:
        return orjson.dumps(values).decode()  # for json_each (a str: a BLOB is refused)

    def timestamp(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def column_money(self, value: Any) -> str | None:
        return None if value is None else "%.4f" % value  # noqa: UP031  # as SQLAlchemy

    def sum_money(self, value: Any) -> str:
        # SUM keeps the column's type in SQLAlchemy: "%.4f" first, then _money's rounding
        return "0.0000" if value is None else "%.4f" % value  # noqa: UP031

    async def close(self) -> None:
        for conn in self._open:
            await conn.close()


async def open_database(settings: Settings, trace: Trace | None = None) -> Database:
    url = settings.sqlalchemy_url
    if url.startswith("postgresql+asyncpg://"):
        return await Postgres.open("postgresql://" + url.split("://", 1)[1], trace)
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and len(url) > len(prefix):
        return Sqlite(url[len(prefix) :], trace)
    raise ValueError(f"plain_app serves PostgreSQL or an SQLite file, not {url}")


# -- JSON -----------------------------------------------------------------------------

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class Signer:
    """services/media_urls.py's URLs, from HMAC-SHA256 state keyed once."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))
        self._ttl = ttl_seconds

    def expires(self) -> int:
        return (int(time.time()) // 3600 + 1) * 3600 + self._ttl

    def urls(self, base_url: str) -> Callable[[str], str]:
        """A page's URL maker: the expiry and the prefix are made once."""
        expires = self.expires()
        prefix, suffix = f"{base_url}/media/", f":{expires}".encode()
        query = f"?expires={expires}&sig="
        inner, outer = self._inner, self._outer

        def url(asset_id: str) -> str:
            h = inner.copy()
            h.update(asset_id.encode() + suffix)
            o = outer.copy()
            o.update(h.digest())
            return prefix + asset_id + query + o.hexdigest()[:32]

        return url


def global_id(type_name: str, text_id: str) -> str:
    """Relay's global id as Strawberry writes it: base64("Type:uuid")."""
    return binascii.b2a_base64(f"{type_name}:{text_id}".encode(), newline=False).decode()


def cursor(created_at: datetime, text_id: str) -> str:
    """services.pagination.Cursor.encode: json.dumps([iso, id]), URL-safe base64, no '='."""
    raw = f'["{created_at.isoformat()}", "{text_id}"]'.encode()
    return binascii.b2a_base64(raw, newline=False).decode().translate(_URLSAFE).rstrip("=")


_URLSAFE = str.maketrans("+/", "-_")


def page_info(db: Database, rows: Sequence[Row], has_next: bool, at: int, key: int) -> JSONDict:
    last = rows[-1] if rows else None
    end = None if last is None else cursor(db.timestamp(last[at]), db.text_id(last[key]))
    return {"hasNextPage": has_next, "endCursor": end}


def by_parent(rows: Sequence[Row]) -> dict[Any, list[Row]]:
    grouped: dict[Any, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


@dataclass(frozen=True, slots=True)
class Viewer:
    scope: Any  # None for an admin key, else the client id it is limited to


async def authenticate(db: Database, fetch: Fetch, token: str) -> Viewer | None:
    parts = token.split("_", 2)  # services.api_keys.split_secret: rg_<prefix>_<secret>
    if len(parts) != 3 or parts[0] != "rg" or not parts[1] or not parts[2]:
        return None
    rows = await fetch(db.auth, (parts[1],))
    if not rows:
        return None
    key_hash, role, client_id = rows[0]
    if not hmac.compare_digest(key_hash, hashlib.sha256(token.encode()).hexdigest()):
        return None
    return Viewer(None if role == "admin" else client_id)


async def campaign_page(
    db: Database,
    fetch: Fetch,
    viewer: Viewer,
    sizes: tuple[int, int, int],
    url: Callable[[str], str],
) -> JSONDict:
    n_clients, n_campaigns, n_assets = sizes
    scoped = viewer.scope is not None
    args = (n_clients, viewer.scope) if scoped else (n_clients,)
    clients = await fetch(db.clients(scoped), args)
    client_rows = clients[:n_clients]
    client_ids = [c[0] for c in client_rows]
    campaigns: dict[Any, list[Row]] = {}
    if client_ids:  # GraphQL's loaders send nothing for no parents either
        campaigns = by_parent(await fetch(db.campaigns, (db.ids(client_ids), n_campaigns)))
    campaign_ids = [k[1] for c in client_ids for k in campaigns.get(c, ())[:n_campaigns]]
    assets: dict[Any, list[Row]] = {}
    if campaign_ids:
        assets = by_parent(await fetch(db.assets, (db.ids(campaign_ids), n_assets)))
    text_id, upper = db.text_id, str.upper

    def asset_connection(campaign_id: Any) -> JSONDict:
        fetched = assets.get(campaign_id, [])
        rows = fetched[:n_assets]
        edges = []
        for _, asset_id, kind, mime_type, width, height, _at in rows:
            tid = text_id(asset_id)
            node = {"id": global_id("Asset", tid), "kind": upper(kind), "mimeType": mime_type}
            node.update(width=width, height=height, url=url(tid))
            edges.append({"node": node})
        return {"pageInfo": page_info(db, rows, len(fetched) > n_assets, 6, 1), "edges": edges}

    def campaign_connection(client_id: Any) -> JSONDict:
        fetched = campaigns.get(client_id, [])
        rows = fetched[:n_campaigns]
        edges = []
        for _, campaign_id, name, status, budget, _at, videos, jobs, spend, avg in rows:
            stats = {"videoCount": videos, "totalSpendUsd": db.sum_money(spend)}
            stats["averageCostUsd"] = None if avg is None else _stats_money(avg)
            stats["jobCount"] = jobs
            node = {"id": global_id("Campaign", text_id(campaign_id)), "name": name}
            node.update(status=upper(status), budgetUsd=db.column_money(budget), stats=stats)
            node["assets"] = asset_connection(campaign_id)
            edges.append({"node": node})
        info = page_info(db, rows, len(fetched) > n_campaigns, 5, 1)
        return {"pageInfo": info, "edges": edges}

    client_edges = []
    for client_id, name, _at, n_camp, videos, spend in client_rows:
        stats = {"campaignCount": n_camp, "videoCount": videos}
        stats["totalSpendUsd"] = db.sum_money(spend)
        node = {"id": global_id("Client", text_id(client_id)), "name": name, "stats": stats}
        node["campaigns"] = campaign_connection(client_id)
        client_edges.append({"node": node})
    info = page_info(db, client_rows, len(clients) > n_clients, 2, 0)
    return {"data": {"clients": {"pageInfo": info, "edges": client_edges}}}


async def one_client(db: Database, fetch: Fetch, viewer: Viewer, first: int) -> JSONDict:
    scoped = viewer.scope is not None
    rows = await fetch(db.one(scoped), (first, viewer.scope) if scoped else (first,))
    edges = [{"node": {"id": global_id("Client", db.text_id(i)), "name": n}} for i, n in rows]
    return {"data": {"clients": {"edges": edges}}}


# -- HTTP -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plain:
    settings: Settings
    db: Database
    signer: Signer

    def size(self, body: JSONDict, name: str) -> int:
        """services.pagination.parse_first: the default when absent, else 0..maximum."""
        value = body.get(name)
        size = self.settings.default_page_size if value is None else value
        if type(size) is not int or not 0 <= size <= self.settings.max_page_size:
            raise ValueError(f"{name} must be between 0 and {self.settings.max_page_size}")
        return size


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type="application/json")


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Handler = Callable[[Plain, Fetch, Viewer, JSONDict, Request], Awaitable[JSONDict]]


def endpoint(handle: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        plain: Plain = request.app.state.plain
        try:
            body = orjson.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return _error(400, str(exc))
        token = _bearer(request)
        async with plain.db.connection() as fetch:
            viewer = None if token is None else await authenticate(plain.db, fetch, token)
            if viewer is None:
                return _error(401, "unauthenticated")
            try:
                document = await handle(plain, fetch, viewer, body, request)
            except ValueError as exc:
                return _error(400, str(exc))
        return Response(orjson.dumps(document), media_type="application/json")

    return serve


async def _page(
    plain: Plain, fetch: Fetch, viewer: Viewer, body: JSONDict, request: Request
) -> JSONDict:
    sizes = plain.size(body, "clients"), plain.size(body, "campaigns"), plain.size(body, "assets")
    urls = plain.signer.urls(str(request.base_url).rstrip("/"))
    return await campaign_page(plain.db, fetch, viewer, sizes, urls)


async def _one(
    plain: Plain, fetch: Fetch, viewer: Viewer, body: JSONDict, request: Request
) -> JSONDict:
    return await one_client(plain.db, fetch, viewer, plain.size(body, "first"))


def create_app(settings: Settings | None = None, trace: Trace | None = None) -> Starlette:
    """`trace` (in-process only) collects every statement the driver runs."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await open_database(settings, trace)
        signer = Signer(settings.signing_key(), settings.media_url_ttl_seconds)
        app.state.plain = Plain(settings, db, signer)
        try:
            yield
        finally:
            await db.close()

    routes = [
        Route("/page", endpoint(_page), methods=["POST"]),
        Route("/one", endpoint(_one), methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
