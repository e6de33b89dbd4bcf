"""Every `reelgraph ... --help` page is plain: values named (PORT, JOB_ID), flags bare,
no type tags such as `<bool>` and no braces such as `{job_id}`."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from gql.cli.app import app


def _paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found += _paths(sub, (*prefix, name))
    return found


COMMANDS = _paths(typer.main.get_command(app))


def help_page(*path: str) -> str:
    result = CliRunner().invoke(
        app, [*path, "--help"], prog_name="reelgraph", env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_listed() -> None:
    assert {" ".join(p) for p in COMMANDS} >= {
        "", "serve", "worker", "migrate", "export-schema", "gc", "thumbnails", "watch", "demo",
        "keys", "keys create", "keys list", "keys revoke",
    }  # fmt: skip


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "reelgraph")
def test_help_is_plain(path: tuple[str, ...]) -> None:
    page = help_page(*path)
    assert page.startswith(f"Usage: {' '.join(('reelgraph', *path))} [OPTIONS]"), page
    assert not re.search(r"[<>{}]", page), page  # no <bool>, <str>, {job_id}
    assert not re.search(r"\w\.\.\.$", page, re.M), "a command's summary was cut short"
    for option, value in re.findall(r"^  (--[\w-]+) ?(\S*)", page, re.M):
        assert value in ("", "/") or value.isupper(), (option, value)  # --port PORT, --admin


def test_arguments_and_flags_read_as_they_are_typed() -> None:
    watch = help_page("watch")
    assert watch.startswith("Usage: reelgraph watch [OPTIONS] JOB_ID\n"), watch
    assert re.search(r"^Arguments:\n  JOB_ID +The job's ID", watch, re.M), watch
    assert re.search(r"^  --url URL +The server's base URL", watch, re.M), watch
    create = help_page("keys", "create")
    assert re.search(r"^  --admin +A key that sees every client", create, re.M), create
    assert re.search(r"^  --client CLIENT_ID +Scope", create, re.M), create
    assert "Usage: reelgraph keys revoke [OPTIONS] KEY\n" in help_page("keys", "revoke")
    demo = help_page("demo")
    for line in ("--host HOST", "--port PORT", "--keep-serving / --no-keep-serving"):
        assert f"  {line}" in demo, demo
