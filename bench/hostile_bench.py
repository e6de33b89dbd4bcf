"""Benchmark: how long the API takes to refuse hostile documents.

    .venv/bin/python -m bench.hostile_bench [--requests 20] [--before]

An embedded app (SQLite and Redis in a temporary data directory, rate limits off,
the query limits at their defaults) is driven in-process through
`httpx.ASGITransport`, one request at a time, with and without an API key. Each
document is sent `--requests` times (after one warm-up) and the latencies are
reported as percentiles, with the status and error codes of the answer:

- the fragment bomb (each fragment spreads the next twice) at 20 and 40 levels, GET;
- 10,000 aliases of `clients { totalCount }` (~490 kB), POST;
- `{ viewer { role } }` 300 times (3.6 kB): within the limits, but graphql-core's
  OverlappingFieldsCanBeMerged compares the 300 fields pairwise, POST;
- 1 MB token flood (`{ a a a ... }`), 1 MB of comments, and a 1 MB string literal
  (few tokens, long lexing; not refused: it is within every limit), POST.

Every request starts with a comment of its own, so neither the parse nor the
validation cache answers it.

`--before` serves the schema the way it was before the query limits (Strawberry's
QueryDepthLimiter at 12, nothing else) and sends the 20-level bomb, the aliases and
the repeated field once each, without a key, to show what the limits save (the others would hold the
event loop for minutes or more: validation is synchronous, no timeout cuts it).
Bodies are encoded before the clock starts, so the client's JSON encoding is not
measured.

The ceiling column is the cheapest honest refusal of the same text: graphql-core's
parser alone (stopping at the token limit, as any server must read that far) and an
orjson-encoded error body, in the same process with no HTTP; `x ceiling` is the
served p50 over the ceiling's p50.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import strawberry
from graphql import GraphQLError, parse
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator

import gql.app
from gql.app import create_app
from gql.error_masking import MaskUnexpectedErrors
from gql.execution import PlainExecutionContext
from gql.schema import Mutation
from services import api_keys
from services.settings import Settings
from services.uow import unit_of_work


def bomb(levels: int) -> str:
    fragments = " ".join(
        f"fragment F{i} on Query {{...F{i + 1} ...F{i + 1}}}" for i in range(levels)
    )
    return f"{{...F0}} {fragments} fragment F{levels} on Query {{__typename}}"


ALIASES = "{" + "".join(f" a{i}: clients {{ totalCount }}" for i in range(10_000)) + " }"
MB = 1_000_000
# (name, method, document, also sent --before: the old schema never finishes some)
CASES: list[tuple[str, str, str, bool]] = [
    ("fragment bomb, 20 levels", "GET", bomb(20), True),
    ("fragment bomb, 40 levels", "GET", bomb(40), False),
    ("10,000 aliases", "POST", ALIASES, True),
    ("300 x viewer { role }", "POST", "{" + " viewer { role }" * 300 + " }", True),
    ("1 MB token flood", "POST", "{ " + "a " * (MB // 2 - 20) + "}", False),
    ("1 MB of comments", "POST", ("# " + "x" * 60 + "\n") * (MB // 64 - 1), False),
    ("1 MB string literal", "POST", '{ __type(name: "' + "x" * (MB - 50) + '") { name } }', False),
]


def old_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema as it was served before the query limits (commit 4edaec8)."""
    from gql.queries import Query
    from gql.subscriptions import Subscription
    from gql.types.assets import Asset
    from gql.types.campaigns import Campaign
    from gql.types.clients import Client
    from gql.types.errors import UserError
    from gql.types.jobs import Job

    depth = create_validator(max_depth=12, should_ignore=None)
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = 500_000  # graphql-core's default
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Client, Campaign, Asset, Job, UserError],
        extensions=[
            functools.partial(ParserCache, maxsize=512),
            functools.partial(ValidationCache, maxsize=512),
            functools.partial(AddValidationRules, [depth]),
            MaskUnexpectedErrors,
        ],
        execution_context_class=PlainExecutionContext,
    )


def request_for(method: str, query: str, key: str | None) -> httpx.Request:
    headers = {"Accept": "application/graphql-response+json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = "http://bench.invalid/graphql"
    if method == "GET":
        return httpx.Request("GET", url, params={"query": query}, headers=headers)
    body = json.dumps({"query": query}).encode()
    headers["Content-Type"] = "application/json"
    return httpx.Request("POST", url, content=body, headers=headers)


def outcome(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} (not JSON)"
    found = [
        (e.get("extensions") or {}).get("code", e["message"][:40]) for e in body.get("errors") or []
    ]
    return f"{response.status_code} {','.join(dict.fromkeys(str(c) for c in found))}"


def ceiling(query: str, max_tokens: int, rounds: int) -> float:
    """p50 seconds of the cheapest honest refusal: parse up to the token limit, then
    encode an error body."""
    samples = []
    for i in range(rounds):
        text = f"# {i}\n{query}"
        start = time.perf_counter()
        try:
            parse(text, no_location=True, max_tokens=max_tokens)
            message = "refused"
        except GraphQLError as exc:
            message = exc.message
        orjson.dumps({"errors": [{"message": message, "extensions": {"code": "REFUSED"}}]})
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return f"p50 {cuts[49]:8.1f}  p90 {cuts[89]:8.1f}  p99 {cuts[98]:8.1f}  max {ms[-1]:8.1f} ms"


async def run(requests: int, before: bool, timeout: float) -> None:
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)  # one line per refusal
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), rate_limits=False, run_worker=False)
        if before:
            original: Callable[..., Any] = gql.app.build_schema  # type: ignore[attr-defined]
            gql.app.build_schema = old_schema  # type: ignore[attr-defined]
        app = create_app(settings)
        if before:
            gql.app.build_schema = original  # type: ignore[attr-defined]
        async with app.router.lifespan_context(app):
            async with unit_of_work(app.state.runtime.session_factory) as session:
                key = (await api_keys.create_key(session, admin=True)).secret
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
                count = "1 request" if before else f"{requests} requests"
                print(
                    f"{'document':26} {'key':4} {'answer':38} latency ({count})"
                    f"{'':22}ceiling p50  x ceiling"
                )
                for name, method, query, old_too in CASES:
                    for who, secret in (("no", None), ("yes", key)):
                        if before and (secret or not old_too):
                            continue
                        samples: list[float] = []
                        answer = ""
                        for i in range(1 if before else requests + 1):
                            # A new text each time: no cache answers for the server.
                            request = request_for(method, f"# {i} {who}\n{query}", secret)
                            start = time.perf_counter()
                            try:
                                response = await asyncio.wait_for(http.send(request), timeout)
                            except TimeoutError:
                                answer = f"gave up after {timeout:.0f} s"
                                samples.append(timeout)
                                break
                            elapsed = time.perf_counter() - start
                            answer = outcome(response)
                            if i > 0 or before:
                                samples.append(elapsed)
                        floor = ceiling(query, settings.max_query_tokens, max(3, requests))
                        ratio = statistics.median(samples) / floor
                        print(
                            f"{name:26} {who:4} {answer[:38]:38} {percentiles(samples)}"
                            f"  {floor * 1000:8.2f} ms  {ratio:8.1f}"
                        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--before", action="store_true", help="the schema before the limits")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.before, args.timeout))


if __name__ == "__main__":
    main()
