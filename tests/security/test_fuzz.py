"""Property-based fuzzing of /graphql: every malformed request is a 4xx with a JSON GraphQL
body, never a 5xx, a masked internal error or a logged exception; a failed mutation
leaves no row and no file behind.

Design
- Documents come from hypothesis-graphql over the served schema's SDL, per group of
  root fields (every Query and Mutation field), in its positive mode (valid documents,
  arbitrary argument values) and its negative mode (one schema violation). Scalars get
  our strategies: real global IDs of rows made by the `world` fixture next to forged
  ones, cursors and catalog strings next to arbitrary text, Decimal and JSON edge cases.
  Uploads, variables and raw HTTP bodies (JSON, GET query strings, multipart, headers)
  have their own strategies. Each example picks the admin key, a tenant key, no key or
  a wrong one.
- Async: Hypothesis runs a sync test, the app lives on pytest-asyncio's session loop.
  Each async test hands the Hypothesis run to a worker thread (`asyncio.to_thread`),
  which leaves the loop free; every example submits its coroutine back to the loop
  (`asyncio.run_coroutine_threadsafe`) and waits. No nested loops, no second app, and
  the engine, Redis and httpx client stay on the loop that made them
  (fuzz_support.LoopBridge).
- Oracles per example: no exception out of the ASGI app (httpx's ASGITransport raises
  what a server would answer with a 500), status < 500, a JSON body with `data` and/or
  `errors`, no "Internal server error" (MaskUnexpectedErrors' message) and no ERROR
  record logged by the app. Rows (every table) and the files under the media dir are
  snapshot before each example and compared after it when it must have written
  nothing: a query, or a mutation whose every root field answered `UserError` or null
  (`__typename` is added to each root field's selection so that this is known).
- The API's enqueue is replaced for these tests: a generation that passes every check
  commits its job and sub-jobs and queues nothing, so no render writes files while
  the snapshots are compared; the rows are deleted with the world's clients at the end.
- Findings are collected rather than raised one at a time: each distinct problem keeps
  its shortest example, and the test fails at the end listing all of them.
- Budget: derandomized (reproducible in CI), no example database, a fixed number of
  examples per group (FUZZ_EXAMPLES); `EXAMPLES` counts them and the session's
  terminal gets one "N fuzz examples" line.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries
from starlette.applications import Starlette

from gql.schema import build_schema
from services.runtime import Runtime
from services.settings import Settings
from tests.client import UPLOAD, GraphQLClient
from tests.samples import Samples
from tests.security.fuzz_support import (
    ACCEPTED,
    EXAMPLES,
    ErrorLog,
    LoopBridge,
    cursor,
    custom_scalars,
    error_log,
    global_ids,
    json_values,
    media_files,
    response_problems,
    row_counts,
    with_root_typenames,
    wrote_nothing_expected,
)

FUZZ_EXAMPLES = 100

QUERY_GROUPS = {"queries": ["node", "viewer", "models", "estimateCost", "clients"]}
MUTATION_GROUPS = {
    "clients": ["createClient", "updateClient", "deleteClient"],
    "campaigns": ["createCampaign", "updateCampaign", "deleteCampaign"],
    "assets": ["uploadAsset", "deleteAsset", "createAssetsFromUrls", "exportVideo"],
    "generation": ["generateImage", "generateVideo", "generateAudio", "createVideoFromImagePairs"],
    "job_actions": ["cancelJob", "rejectJob", "approveJob", "retrySubJob", "regenerateSubJob"],
    "metrics": ["recordVideoMetrics"],
    "briefs": ["createBrief", "parseBrief", "refineBrief", "generateStoryboard"],
    "storyboards": [
        "updateScene",
        "addScene",
        "deleteScene",
        "reorderScenes",
        "regenerateScene",
        "approveStoryboard",
    ],
}


def fuzz_settings(examples: int = FUZZ_EXAMPLES) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


@dataclass
class Findings:
    """Distinct problems, each with its shortest example."""

    found: dict[str, str] = field(default_factory=dict)

    def add(self, problems: list[str], example: str) -> None:
        for problem in problems:
            key = re.sub(r"request[_ ]id[= ][0-9a-f]+|[0-9a-f-]{32,36}|\d+", "#", problem)[:160]
            if key not in self.found or len(example) < len(self.found[key]):
                self.found[key] = example

    def report(self) -> str:
        return "\n\n".join(f"* {k}\n  example: {v}" for k, v in self.found.items())


@dataclass
class World:
    """Rows the fuzzer can aim at, and what it takes to talk to the app."""

    http: httpx.AsyncClient
    runtime: Runtime
    log: ErrorLog
    keys: list[str | None]
    ids: list[str]
    campaigns: list[str]
    clients: list[str]
    findings: Findings = field(default_factory=Findings)
    group: str = ""

    async def send(
        self, request: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | BaseException:
        try:
            return await request()
        except Exception as exc:  # raised out of the app: a real server answers 500
            return exc

    async def check(
        self,
        example: str,
        request: Callable[[], Awaitable[httpx.Response]],
        *,
        writes: bool,
        html_ok: bool = False,
    ) -> httpx.Response | BaseException:
        """Send one request and record every broken rule."""
        storage = self.runtime.settings.storage_dir
        counts, files = await row_counts(self.runtime), media_files(storage)
        self.log.take()
        response = await self.send(request)
        problems = response_problems(response, self.log.take(), html_ok=html_ok)
        if not wrote_nothing_expected(response):
            ACCEPTED[self.group] += 1
        if not writes or wrote_nothing_expected(response):
            after_counts, after_files = await row_counts(self.runtime), media_files(storage)
            if after_counts != counts:
                changed = {k: (counts[k], v) for k, v in after_counts.items() if counts[k] != v}
                problems.append(f"rows changed by a failed request: {changed}")
            if after_files != files:
                problems.append(
                    f"files changed by a failed request: +{sorted(after_files - files)} "
                    f"-{sorted(files - after_files)}"
                )
        if problems:
            status = getattr(response, "status_code", "exception")
            body = response.text[:300] if isinstance(response, httpx.Response) else ""
            self.findings.add(problems, f"{example}\n  -> {status} {body}")
        return response


def headers(key: str | None, accept: str = "application/graphql-response+json") -> dict[str, str]:
    out = {"Accept": accept}
    if key is not None:
        out["Authorization"] = f"Bearer {key}"
    return out


async def run_fuzz(
    name: str,
    strategy: st.SearchStrategy[Any],
    body: Callable[[Any], Coroutine[Any, Any, None]],
    world: World,
    examples: int = FUZZ_EXAMPLES,
) -> None:
    """Run `body` on `examples` values of `strategy`, each on the session loop."""
    bridge = LoopBridge(asyncio.get_running_loop())
    world.group = name

    @fuzz_settings(examples)
    @given(strategy)
    def fuzz(value: Any) -> None:
        EXAMPLES[name] += 1
        bridge.run(body(value))

    await asyncio.to_thread(fuzz)
    assert EXAMPLES[name] > 0
    assert not world.findings.found, f"{name}: {len(world.findings.found)} problems\n" + (
        world.findings.report()
    )


@pytest.fixture(scope="module", autouse=True)
def _count_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    total = sum(EXAMPLES.values())
    if reporter is not None and capture is not None and total:
        groups = ", ".join(f"{k} {v} ({ACCEPTED[k]} accepted)" for k, v in sorted(EXAMPLES.items()))
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nreelgraph fuzz: {total} fuzz examples ({groups})")


SUB_JOBS = "query($id: ID!) { node(id: $id) { ... on Job { subJobs { id } } } }"
GENERATE_IMAGE = """
mutation($input: GenerateImageInput!) { generateImage(input: $input) {
  __typename ... on JobPayload { job { id } } ... on Error { code message } } }"""


@pytest.fixture
async def world(
    app: Starlette,
    http: httpx.AsyncClient,
    runtime: Runtime,
    admin: GraphQLClient,
    tenant: GraphQLClient,
    samples: Samples,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """Two clients (the admin's and the tenant's), campaigns, assets, a job and its
    sub-job; the enqueue of the API stubbed (see the module docstring)."""

    async def enqueue(task: str, *args: Any, **kwargs: Any) -> bool:
        return True

    monkeypatch.setattr(app.state.broker, "enqueue", enqueue)
    assert tenant.client_id is not None
    other = await admin.create_client(f"Fuzz {uuid.uuid4().hex[:6]}")
    clients = [tenant.client_id, other]
    campaigns = [
        await tenant.create_campaign(tenant.client_id, "Fuzz A", budgetUsd="50"),
        await tenant.create_campaign(tenant.client_id, "Fuzz B"),
        await admin.create_campaign(other, "Fuzz C", budgetUsd="0"),
    ]
    assets = [
        (await tenant.upload_ok(samples.png, "a.png", campaign_id=campaigns[0]))["id"],
        (await tenant.upload_ok(samples.jpeg, "b.jpg", campaign_id=campaigns[0]))["id"],
        (await tenant.upload_ok(samples.wav, "c.wav", campaign_id=campaigns[0]))["id"],
        (await tenant.upload_ok(samples.png, "logo.png", client_id=tenant.client_id))["id"],
        (await admin.upload_ok(samples.jpeg, "d.jpg", campaign_id=campaigns[2]))["id"],
    ]
    job = await tenant.mutate(
        GENERATE_IMAGE, {"input": {"campaignId": campaigns[0], "prompt": "a red shoe"}}
    )
    assert job["__typename"] == "JobPayload", job
    job_id = job["job"]["id"]
    subs = (await tenant.execute(SUB_JOBS, {"id": job_id}))["node"]["subJobs"]
    keys = [admin.key, tenant.key, None, "rg_not-a-real-key"]
    with error_log() as log:
        yield World(
            http=http,
            runtime=runtime,
            log=log,
            keys=keys,
            ids=[*clients, *campaigns, *assets, job_id, *(s["id"] for s in subs)],
            campaigns=campaigns,
            clients=clients,
        )
    for client_id in clients:  # and with them every job the fuzzer queued
        await admin.mutate(
            "mutation($id: ID!) { deleteClient(input: {id: $id}) { __typename } }",
            {"id": client_id},
        )


def served_sdl(settings: Settings) -> str:
    return build_schema(settings).as_str()


def documents(
    settings: Settings, world: World, fields: list[str], *, mutation: bool
) -> st.SearchStrategy[str]:
    make = mutations if mutation else queries
    sdl = served_sdl(settings)
    scalars = custom_scalars(world.ids)
    return st.one_of(
        *(
            make(sdl, fields=fields, custom_scalars=scalars, print_ast=with_root_typenames, mode=m)
            for m in (Mode.POSITIVE, Mode.POSITIVE, Mode.NEGATIVE)
        )
    )


ACCEPTS = ["application/graphql-response+json", "application/json", "*/*"]


async def fuzz_documents(
    name: str, settings: Settings, world: World, fields: list[str], *, mutation: bool
) -> None:
    strategy = st.tuples(
        documents(settings, world, fields, mutation=mutation),
        st.sampled_from(world.keys),
        st.sampled_from(ACCEPTS),
    )

    async def body(value: tuple[str, str | None, str]) -> None:
        document, key, accept = value

        async def request() -> httpx.Response:
            return await world.http.post(
                "/graphql", json={"query": document}, headers=headers(key, accept)
            )

        role = {world.keys[0]: "admin", world.keys[1]: "tenant", None: "none"}.get(key, "bad")
        await world.check(f"[{role}, {accept}] {document}", request, writes=mutation)

    await run_fuzz(name, strategy, body, world)


# --- 1. every root field, through hypothesis-graphql -------------------------------------


@pytest.mark.parametrize("group", sorted(QUERY_GROUPS))
async def test_queries(group: str, world: World, settings: Settings) -> None:
    await fuzz_documents(f"query:{group}", settings, world, QUERY_GROUPS[group], mutation=False)


@pytest.mark.parametrize("group", sorted(MUTATION_GROUPS))
async def test_mutations(group: str, world: World, settings: Settings) -> None:
    await fuzz_documents(
        f"mutation:{group}", settings, world, MUTATION_GROUPS[group], mutation=True
    )


def test_every_root_field_is_fuzzed(settings: Settings) -> None:
    schema = build_schema(settings)
    query_fields = {f.name for f in schema.get_type_by_name("Query").fields}  # type: ignore[union-attr]
    mutation_fields = {f.name for f in schema.get_type_by_name("Mutation").fields}  # type: ignore[union-attr]
    assert {f for g in QUERY_GROUPS.values() for f in g} == {
        schema.config.name_converter.apply_naming_config(f) for f in query_fields
    }
    assert {f for g in MUTATION_GROUPS.values() for f in g} == {
        schema.config.name_converter.apply_naming_config(f) for f in mutation_fields
    }


# --- variables: JSON values no literal can carry (NUL, lone surrogates, huge ints) ------

VARIABLE_DOCUMENTS = {
    "createClient": "mutation($input: CreateClientInput!) { createClient(input: $input) "
    "{ __typename ... on Error { code field } } }",
    "updateClient": "mutation($input: UpdateClientInput!) { updateClient(input: $input) "
    "{ __typename ... on Error { code field } } }",
    "createCampaign": "mutation($input: CreateCampaignInput!) { createCampaign(input: $input) "
    "{ __typename ... on Error { code field } } }",
    "updateCampaign": "mutation($input: UpdateCampaignInput!) { updateCampaign(input: $input) "
    "{ __typename ... on Error { code field } } }",
    "generateVideo": "mutation($input: GenerateVideoInput!) { generateVideo(input: $input) "
    "{ __typename ... on Error { code field } } }",
    "clients": "query($first: Int, $after: String) { clients(first: $first, after: $after) "
    "{ totalCount nodes { id campaigns(first: $first, after: $after) { totalCount } } } }",
}


def variables(world: World) -> st.SearchStrategy[dict[str, Any]]:
    texts = st.text(max_size=30) | st.sampled_from(["\x00", "\ud800", "ok\udfff", " ", "#FFF"])
    anything = json_values()
    fields = {
        "id": global_ids(world.ids),
        "clientId": global_ids(world.ids),
        "campaignId": global_ids(world.ids),
        "name": texts,
        "notes": texts,
        "homepage": texts,
        "goal": texts,
        "productUrl": texts,
        "prompt": texts,
        "budgetUsd": texts | st.integers() | st.floats(),
        "metadata": anything,
        "brandGuidelines": st.fixed_dictionaries(
            {},
            optional={
                "colors": st.lists(st.fixed_dictionaries({"hex": texts}, optional={"name": texts})),
                "tone": texts,
                "dos": st.lists(texts, max_size=3),
                "logoAssetId": global_ids(world.ids),
            },
        ),
        "duration": st.floats() | st.integers(),
        "fps": st.integers(),
    }
    typed = st.fixed_dictionaries({}, optional=fields)
    return st.fixed_dictionaries(
        {},
        optional={
            "input": typed | anything,
            "first": st.integers() | anything,
            "after": texts | anything,
        },
    )


async def test_variables(world: World) -> None:
    strategy = st.tuples(
        st.sampled_from(sorted(VARIABLE_DOCUMENTS)), variables(world), st.sampled_from(world.keys)
    )

    async def body(value: tuple[str, dict[str, Any], str | None]) -> None:
        name, values, key = value
        payload = json.dumps({"query": VARIABLE_DOCUMENTS[name], "variables": values})

        async def request() -> httpx.Response:
            return await world.http.post(
                "/graphql",
                content=payload,
                headers={**headers(key), "Content-Type": "application/json"},
            )

        await world.check(f"{name} {payload}", request, writes=name != "clients")

    await run_fuzz("variables", strategy, body, world)


# --- uploads: the multipart request specification's shape, arbitrary parts -------------


def upload_requests(world: World, samples: Samples) -> st.SearchStrategy[dict[str, Any]]:
    content = st.sampled_from(
        [samples.png, samples.jpeg, samples.wav, samples.pdf, samples.elf, b"", b"\x00" * 64]
    ) | st.binary(max_size=512)
    target: st.SearchStrategy[dict[str, str]] = st.one_of(
        st.fixed_dictionaries({"campaignId": global_ids(world.campaigns)}),
        st.fixed_dictionaries({"clientId": global_ids(world.clients)}),
        st.fixed_dictionaries(
            {"campaignId": global_ids(world.ids), "clientId": global_ids(world.ids)}
        ),
        st.just({}),
    )
    return st.fixed_dictionaries(
        {
            "content": content,
            "filename": st.text(max_size=40) | st.sampled_from(["../../x.png", "a.png", ""]),
            "target": target,
            "key": st.sampled_from(world.keys),
            "path": st.sampled_from(
                ["variables.input.file"] * 4
                + [
                    "variables.input",
                    "variables.input.nope",
                    "variables.file",
                    "variables.input.file.0",
                ]
            ),
            "mime": st.sampled_from(["application/octet-stream", "image/png", "text/plain", ""]),
        }
    )


async def test_uploads(world: World, samples: Samples) -> None:
    async def body(value: dict[str, Any]) -> None:
        operations = {"query": UPLOAD, "variables": {"input": {"file": None, **value["target"]}}}

        async def request() -> httpx.Response:
            return await world.http.post(
                "/graphql",
                data={
                    "operations": json.dumps(operations),
                    "map": json.dumps({"0": [value["path"]]}),
                },
                files={"0": (value["filename"], value["content"], value["mime"])},
                headers={**headers(value["key"]), "Apollo-Require-Preflight": "true"},
            )

        shown = {**value, "content": value["content"][:16]}
        await world.check(f"upload {shown!r}", request, writes=True)

    await run_fuzz("uploads", upload_requests(world, samples), body, world)


# --- 2. raw requests: bodies, query strings, multipart parts, headers -------------------

RAW_DOCUMENTS = [
    "{ viewer { role } }",
    "{ __typename }",
    "query A { viewer { role } } query B { models { name } }",
    'subscription { jobProgress(jobId: "x") { seq } }',
    'mutation { deleteAsset(input: {id: "x"}) { __typename } }',
    "{",
    "{" * 300 + "}" * 300,
    "",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "",
    "\x7f;;=",
]
RAW_ACCEPTS = [*ACCEPTS, "text/html", "application/xml", "", "*/*;q=0", "application/json;q=x"]


def raw_headers() -> st.SearchStrategy[dict[str, str]]:
    header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
    return st.fixed_dictionaries(
        {"content-type": st.sampled_from(CONTENT_TYPES) | header_text},
        optional={
            "accept": st.sampled_from(RAW_ACCEPTS) | header_text,
            "apollo-require-preflight": st.just("true"),
        },
    )


def json_bodies() -> st.SearchStrategy[Any]:
    query = st.sampled_from(RAW_DOCUMENTS) | json_values()
    request = st.fixed_dictionaries(
        {},
        optional={
            "query": query,
            "variables": json_values(),
            "operationName": json_values() | st.sampled_from(["A", "B", "C"]),
            "extensions": json_values(),
        },
    )
    return st.one_of(request, request, st.lists(request, max_size=3), json_values())


def raw_bytes() -> st.SearchStrategy[bytes]:
    deep = st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n + b"]" * n)
    deep_object = st.integers(min_value=1, max_value=5_000).map(
        lambda n: (
            b'{"query": "{ __typename }", "variables": ' + b'{"a":' * n + b"1" + b"}" * n + b"}"
        )
    )
    return st.one_of(
        json_bodies().map(lambda v: json.dumps(v).encode()),
        json_bodies().map(lambda v: json.dumps(v).encode()),
        deep,
        deep_object,
        st.binary(max_size=200),
    )


async def test_raw_post_bodies(world: World) -> None:
    strategy = st.tuples(raw_bytes(), raw_headers(), st.sampled_from(world.keys))

    async def body(value: tuple[bytes, dict[str, str], str | None]) -> None:
        content, extra, key = value

        async def request() -> httpx.Response:
            base = {"Authorization": f"Bearer {key}"} if key else {}
            return await world.http.post("/graphql", content=content, headers={**base, **extra})

        await world.check(f"POST {content[:300]!r} headers={extra}", request, writes=True)

    await run_fuzz("raw:post", strategy, body, world)


def query_strings() -> st.SearchStrategy[str]:
    value = st.one_of(
        st.sampled_from(RAW_DOCUMENTS),
        st.text(max_size=40),
        json_values().map(json.dumps),
    )
    params = st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions"])
        | st.text(max_size=8),
        value,
        max_size=4,
    ).map(urllib.parse.urlencode)
    return params | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)


async def test_raw_get_requests(world: World) -> None:
    strategy = st.tuples(query_strings(), st.sampled_from(RAW_ACCEPTS), st.sampled_from(world.keys))

    async def body(value: tuple[str, str, str | None]) -> None:
        query_string, accept, key = value

        async def request() -> httpx.Response:
            query = urllib.parse.quote(query_string, safe="=&%+;/?:@,$!*'()~-._")
            return await world.http.get(f"/graphql?{query}", headers=headers(key, accept))

        example = f"GET /graphql?{query_string} accept={accept!r}"
        await world.check(example, request, writes=True, html_ok=True)  # GraphiQL

    await run_fuzz("raw:get", strategy, body, world)


def multipart_parts(world: World) -> st.SearchStrategy[dict[str, Any]]:
    operations = st.one_of(
        st.just(json.dumps({"query": UPLOAD, "variables": {"input": {"file": None}}})),
        json_bodies().map(json.dumps),
        st.text(max_size=40),
    )
    path = st.sampled_from(
        [
            "variables.input.file",
            "variables",
            "variables.input.file.x",
            "query",
            "0",
            "",
            "variables.input.file.99",
        ]
    )
    mapping = st.one_of(
        st.dictionaries(
            st.sampled_from(["0", "1", "x"]), st.lists(path, max_size=2), max_size=2
        ).map(json.dumps),
        json_values().map(json.dumps),
        st.text(max_size=30),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "operations": operations,
            "map": mapping,
            "files": st.dictionaries(
                st.sampled_from(["0", "1", "x", "operations"]),
                st.binary(max_size=64),
                max_size=2,
            ),
            "preflight": st.booleans(),
            "key": st.sampled_from(world.keys),
        },
    )


async def test_raw_multipart(world: World) -> None:
    async def body(value: dict[str, Any]) -> None:
        data: dict[str, Any] = {k: value[k] for k in ("operations", "map") if k in value}
        files = {name: (name, content) for name, content in value.get("files", {}).items()}
        extra = {"Apollo-Require-Preflight": "true"} if value.get("preflight", True) else {}

        async def request() -> httpx.Response:
            return await world.http.post(
                "/graphql",
                data=data,
                files=files or {"ignored": ("ignored", b"")},
                headers={**headers(value.get("key")), **extra},
            )

        await world.check(f"multipart {value!r}", request, writes=True)

    await run_fuzz("raw:multipart", multipart_parts(world), body, world)


# --- regressions: what the fuzzer found, each pinned by a plain example ------------------

FORGED_CURSORS = [
    cursor("2024-01-01T00:00:00+00:00", 5),  # uuid.UUID(5): AttributeError
    cursor("2024-01-01T00:00:00", str(uuid.uuid4())),  # naive: refused at the bind
    cursor("0001-01-01T00:00:00+14:00", str(uuid.uuid4())),  # before year 1 in UTC
    cursor(["2024"], {}),
]
PAGES = """query($after: String, $id: ID!) {
  clients(after: $after) { totalCount }
  node(id: $id) { ... on Client { campaigns(after: $after) { totalCount } } }
}"""


@pytest.mark.parametrize("after", FORGED_CURSORS)
async def test_a_forged_cursor_is_invalid_input(after: str, world: World) -> None:
    async def request() -> httpx.Response:
        return await world.http.post(
            "/graphql",
            json={"query": PAGES, "variables": {"after": after, "id": world.clients[0]}},
            headers=headers(world.keys[0]),
        )

    response = await world.check(f"cursor {after}", request, writes=False)
    assert not world.findings.found, world.findings.report()
    assert isinstance(response, httpx.Response)
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"INVALID_INPUT"}


UPLOAD_LITERAL = 'mutation { uploadAsset(input: {file: "not a file"}) { __typename } }'
UPLOAD_VARIABLE = """mutation($input: UploadAssetInput!) {
  uploadAsset(input: $input) { __typename } }"""


@pytest.mark.parametrize(
    "request_body",
    [
        {"query": UPLOAD_LITERAL},
        {"query": UPLOAD_VARIABLE, "variables": {"input": {"file": "x"}}},
        {"query": UPLOAD_VARIABLE, "variables": {"input": {"file": {"filename": "a.png"}}}},
        {"query": UPLOAD_VARIABLE, "variables": {"input": {"file": 7}}},
    ],
)
async def test_an_upload_value_that_is_not_a_file_is_invalid_input(
    request_body: dict[str, Any], world: World
) -> None:
    async def request() -> httpx.Response:
        return await world.http.post("/graphql", json=request_body, headers=headers(world.keys[1]))

    response = await world.check(f"upload {request_body}", request, writes=True)
    assert not world.findings.found, world.findings.report()
    assert isinstance(response, httpx.Response)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
