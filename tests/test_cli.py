"""The `reelgraph` command: keys, serve on the embedded default, gc, thumbnails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from db.models import Asset, AssetOrigin, Client
from services.assets import inspect, store
from services.runtime import Runtime
from services.settings import Settings
from tests.samples import Samples

CLI = [sys.executable, "-m", "gql.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["REELGRAPH_DATA_DIR"] = str(tmp_path / "data")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _graphql(base: str, key: str, query: str) -> dict[str, object]:
    response = httpx.post(
        f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
    )
    body: dict[str, object] = response.json()
    return body


def test_keys_create_list_revoke(cli_env: dict[str, str], tmp_path: Path) -> None:
    created = run("keys", "create", "--admin", "--name", "ci", env=cli_env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rg_")
    prefix = key.split("_")[1]

    listed = run("keys", "list", env=cli_env)
    line = next(row for row in listed.stdout.splitlines() if row.startswith(prefix))
    assert "\tadmin\t" in line
    assert "\tactive\t" in line
    assert key not in listed.stdout, "secrets are never shown again"

    revoked = run("keys", "revoke", prefix, env=cli_env)
    assert revoked.returncode == 0, revoked.stderr
    listed = run("keys", "list", env=cli_env)
    assert "\trevoked\t" in next(r for r in listed.stdout.splitlines() if r.startswith(prefix))

    assert run("keys", "create", env=cli_env).returncode == 2
    # a missing client and an ID that names none are refused alike, with one wording
    for client in ["00000000-0000-0000-0000-000000000000", "Q2xpZW50OjE=", "nope"]:
        missing = run("keys", "create", "--client", client, env=cli_env)
        assert missing.returncode == 2
        assert missing.stderr == "error: NOT_FOUND: clientId: no such client\n", missing.stderr
    unknown = run("keys", "revoke", "rg_nothing", env=cli_env)
    assert (unknown.returncode, unknown.stderr) == (2, "error: NOT_FOUND: key: no such API key\n")


def test_keys_create_refuses_a_bad_name(cli_env: dict[str, str]) -> None:
    before = run("keys", "list", env=cli_env).stdout
    for bad in ["x" * 201, "bell\a", "   "]:
        created = run("keys", "create", "--admin", "--name", bad, env=cli_env)
        if bad.strip():
            assert created.returncode == 2, (bad, created.stdout, created.stderr)
            assert created.stderr.startswith("error: INVALID_INPUT: name: "), created.stderr
            assert "Traceback" not in created.stderr
            assert "rg_" not in created.stdout
        else:  # a blank label is no label
            assert created.returncode == 0, created.stderr
    listed = run("keys", "list", env=cli_env).stdout
    assert len(listed.splitlines()) == len(before.splitlines()) + 1, "only the blank-named key"
    assert listed.splitlines()[-1].endswith("\t"), "stored without a name"


def test_gc_removes_old_leftovers_in_tmp(cli_env: dict[str, str]) -> None:
    tmp = Path(cli_env["REELGRAPH_DATA_DIR"]) / "media" / "tmp"
    tmp.mkdir(parents=True)
    old = [tmp / "sub-1-aaaa", tmp / "combine-2-bbbb", tmp / "local-provider-cccc"]
    fresh = [tmp / "sub-3-dddd", tmp / "local-provider-eeee"]
    for folder in old + fresh:
        (folder / "nested").mkdir(parents=True)
        (folder / "nested" / "clip.mp4").write_bytes(b"partial")
    (tmp / "upload-old").write_bytes(b"half an upload")
    (tmp / "upload-new").write_bytes(b"an upload in flight")
    past = time.time() - 3600
    for path in [*old, tmp / "upload-old"]:
        os.utime(path, (past, past))

    swept = run("gc", "--grace-seconds", "60", env=cli_env)
    assert swept.returncode == 0, swept.stderr
    assert "removed" in swept.stdout
    assert sorted(p.name for p in tmp.iterdir()) == sorted([p.name for p in fresh] + ["upload-new"])
    assert all((folder / "nested" / "clip.mp4").read_bytes() == b"partial" for folder in fresh)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_embedded_default_prints_a_working_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["REELGRAPH_DATA_DIR"] = str(tmp_path / "fresh")
    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:  # until uvicorn says it accepts connections
            lines.append(line)
            if "Uvicorn running on" in line:
                break
        key = next(line.strip() for line in lines if line.strip().startswith("rg_"))
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert f"GraphiQL: {base}/graphql\n" in lines
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in page.text.lower()
        assert f"Dashboard: {base}/dashboard\n" in lines  # beside GraphiQL's, and served
        dashboard = httpx.get(f"{base}/dashboard")
        assert dashboard.status_code == 200
        assert dashboard.headers["content-type"].startswith("text/html")
        created = _graphql(
            base, key, 'mutation { createClient(input: {name: "First"}) { __typename } }'
        )
        assert created == {"data": {"createClient": {"__typename": "ClientPayload"}}}
        assert (tmp_path / "fresh" / "reelgraph.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    second = subprocess.run(
        [*CLI, "keys", "list"], capture_output=True, text=True, env=env, check=True
    )
    assert len(second.stdout.strip().splitlines()) == 2, "one key, created once"


@pytest.mark.usefixtures("settings")  # the session's database, migrated
async def test_thumbnails_backfills_older_assets(
    cli_env: dict[str, str], samples: Samples, tmp_path: Path
) -> None:
    first = run("thumbnails", env=cli_env)  # migrates the data directory: nothing to make
    assert first.returncode == 0, first.stderr
    settings = Settings(
        data_dir=Path(cli_env["REELGRAPH_DATA_DIR"]), database_url=cli_env.get("DATABASE_URL")
    )
    runtime = Runtime.open(settings)
    try:
        async with runtime.session_factory() as session:
            client = Client(name=f"Old {uuid.uuid4().hex[:6]}")
            session.add(client)
            await session.flush()
            video = tmp_path / "old.mp4"
            video.write_bytes(samples.mp4)
            staged = await runtime.storage.stage_file(video)
            inspected = await inspect(runtime.storage, staged, max_pixels=10_000_000)
            asset = await store(
                session, runtime.storage, inspected, client_id=client.id, campaign_id=None,
                filename="old.mp4", origin=AssetOrigin.UPLOADED,
            )  # fmt: skip
            asset.thumbnail_key = asset.thumbnail_mime = None  # as before migration 0006
            asset.thumbnail_width = asset.thumbnail_height = None
            await session.commit()
            asset_id = asset.id
        made = run("thumbnails", env=cli_env)
        assert made.returncode == 0, made.stderr
        assert "made" in made.stdout
        async with runtime.session_factory() as session:
            row = await session.get(Asset, asset_id)
            assert row is not None
            assert (row.thumbnail_mime, row.thumbnail_width, row.thumbnail_height) == (
                "image/jpeg",
                160,
                90,
            )
            assert row.thumbnail_key and runtime.storage.path(row.thumbnail_key).exists()
        again = run("thumbnails", env=cli_env)
        assert again.stdout.strip().endswith("made 0 thumbnail(s)")
    finally:
        await runtime.close()
