"""Import media from URLs (`createAssetsFromUrls`): fetched by the server, so fetched with
care, for the server can reach what its callers cannot.

- Only http and https, with no credentials in the URL.
- The host is resolved here, every address it resolves to must be public (not private,
  loopback, link-local, cloud metadata, shared, reserved, multicast or unspecified; an
  IPv4-mapped IPv6 address counts as the IPv4 one), and the connection goes to the
  address that was checked (the Host header and TLS name stay the URL's), so a second
  DNS answer cannot swap in another. Every redirect hop is checked the same way.
- Size and time are capped per URL; the bytes are staged, sniffed and decoded exactly as
  an upload's (services.assets.inspect).
- `allowed_networks` (Settings.url_import_allowed_networks) lets a deployment reach
  networks of its own on purpose; empty by default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Asset, AssetOrigin
from services.assets import Inspected, discard, inspect, store
from services.campaigns import get_campaign
from services.errors import FetchFailed, FileTooLarge, InvalidInput, ServiceError, UrlRefused
from services.storage import LocalStorage
from services.viewer import Viewer

MAX_URLS = 100
MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 5
PARALLEL = 8
USER_AGENT = "reelgraph-url-import/1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int
    seconds: float  # per URL, redirects included
    max_pixels: int
    allowed_networks: tuple[Network, ...] = ()
    total_seconds: float = 120.0  # per call: a list of slow hosts cannot hold it for long


def parse_networks(text: str) -> tuple[Network, ...]:
    """`Settings.url_import_allowed_networks`: comma-separated CIDRs."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )


def is_public(address: Address, allowed: Sequence[Network] = ()) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == n.version and address in n for n in allowed):
        return True
    return address.is_global and not address.is_multicast


def check_urls(urls: Sequence[str]) -> None:
    if not 1 <= len(urls) <= MAX_URLS:
        raise InvalidInput(f"give 1 to {MAX_URLS} URLs", field="urls")


def _target(url: str, field: str) -> httpx.URL:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"is longer than {MAX_URL_LENGTH} characters", field=field)
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError):
        raise InvalidInput("is not a URL", field=field) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UrlRefused("only http and https URLs with a host are fetched", field=field)
    if parsed.userinfo:
        raise UrlRefused("a URL with credentials is not fetched", field=field)
    return parsed


async def _public_address(url: httpx.URL, limits: FetchLimits, field: str) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchFailed(f"{url.host} does not resolve", field=field) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise FetchFailed(f"{url.host} does not resolve", field=field)
    for address in addresses:  # all of them: the one connected to must not be chosen later
        if not is_public(address, limits.allowed_networks):
            raise UrlRefused(
                f"{url.host} is a private, loopback, link-local or reserved address "
                f"({address}): not fetched",
                field=field,
            )
    return str(addresses[0])


async def fetch(
    http: httpx.AsyncClient,
    storage: LocalStorage,
    url: str,
    limits: FetchLimits,
    field: str,
    seconds: float,
) -> Inspected:
    """The URL's bytes, staged and inspected like an upload's; a typed ServiceError else."""
    try:
        async with asyncio.timeout(seconds):  # TimeoutError: the caller says so
            return await _fetch(http, storage, url, limits, field)
    except httpx.HTTPError as exc:
        raise FetchFailed(f"could not be fetched ({type(exc).__name__})", field=field) from None


async def _fetch(
    http: httpx.AsyncClient, storage: LocalStorage, url: str, limits: FetchLimits, field: str
) -> Inspected:
    target = _target(url, field)
    for _ in range(MAX_REDIRECTS + 1):
        address = await _public_address(target, limits, field)
        host = target.netloc.decode("ascii").rsplit("@", 1)[-1]
        request = http.build_request(
            "GET",
            target.copy_with(host=address),
            headers={"Host": host, "User-Agent": USER_AGENT, "Accept": "*/*"},
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        response = await http.send(request, stream=True)
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                target = _target(str(target.join(location)), field)
                continue
            if response.status_code != 200:
                raise FetchFailed(f"answered HTTP {response.status_code}", field=field)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise FileTooLarge(f"is larger than {limits.max_bytes} bytes", field=field)
            staged = await storage.stage(
                response.aiter_bytes(), max_bytes=limits.max_bytes, field=field
            )
        finally:
            await response.aclose()
        return await inspect(storage, staged, max_pixels=limits.max_pixels, field=field)
    raise FetchFailed(f"redirects more than {MAX_REDIRECTS} times", field=field)


def filename_of(url: str) -> str | None:
    """The last path segment, for the asset's filename (its extension comes from the bytes)."""
    name = unquote(PurePosixPath(httpx.URL(url).path).name)
    return name or None


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    inspected: Inspected | None
    error: ServiceError | None


async def fetch_all(
    storage: LocalStorage, urls: Sequence[str], limits: FetchLimits
) -> list[Fetched]:
    """Every URL fetched, PARALLEL at a time, each to its bytes or its typed error, all
    within `limits.total_seconds`: a URL the call's time runs out on fails with it."""
    turn = asyncio.Semaphore(PARALLEL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.total_seconds
    ran_out = f"was not fetched: the import's {limits.total_seconds:g} s ran out"
    # no proxies or .netrc from the environment: requests go where they were checked to go
    async with httpx.AsyncClient(
        follow_redirects=False, trust_env=False, timeout=httpx.Timeout(limits.seconds)
    ) as http:

        async def one(index: int, url: str) -> Fetched:
            field = f"urls.{index}"
            async with turn:
                left = deadline - loop.time()
                if left <= 0:
                    return Fetched(url, None, FetchFailed(ran_out, field=field))
                seconds = min(limits.seconds, left)
                try:
                    inspected = await fetch(http, storage, url, limits, field, seconds)
                    return Fetched(url, inspected, None)
                except TimeoutError:
                    late = f"took longer than {limits.seconds:g} s"
                    error = FetchFailed(late if seconds == limits.seconds else ran_out, field=field)
                    return Fetched(url, None, error)
                except ServiceError as exc:
                    return Fetched(url, None, exc)

        return list(await asyncio.gather(*(one(i, u) for i, u in enumerate(urls))))


@dataclass(frozen=True, slots=True)
class Imported:
    url: str
    asset: Asset | None
    error: ServiceError | None


async def store_fetched(
    session: AsyncSession,
    viewer: Viewer,
    storage: LocalStorage,
    campaign_id: uuid.UUID,
    fetched: Sequence[Fetched],
) -> list[Imported]:
    """Add an asset for each URL that gave usable bytes, in one transaction; each other
    URL keeps its error. Staged bytes not stored are discarded, whatever happens."""
    try:
        campaign = await get_campaign(session, viewer, campaign_id, field="campaignId")
        out: list[Imported] = []
        for item in fetched:
            if item.inspected is None:
                out.append(Imported(item.url, None, item.error))
                continue
            asset = await store(
                session, storage, item.inspected,
                client_id=campaign.client_id, campaign_id=campaign.id,
                filename=filename_of(item.url), origin=AssetOrigin.UPLOADED,
            )  # fmt: skip
            out.append(Imported(item.url, asset, None))
        return out
    finally:
        for item in fetched:
            if item.inspected is not None:
                discard(storage, item.inspected)  # gone already once stored
