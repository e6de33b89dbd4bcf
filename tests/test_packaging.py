"""The installed project: `gql` is this project's package (PyPI's `gql` client library
would install a top-level package of the same name over it, so the test environment
never has it), and the `reelgraph` console script runs the CLI."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gql

ROOT = Path(__file__).resolve().parent.parent


def test_gql_is_this_projects_package() -> None:
    assert Path(gql.__file__).resolve() == ROOT / "gql" / "__init__.py"
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("gql")  # PyPI's GraphQL client: not installed
    owners = importlib.metadata.packages_distributions().get("gql", [])
    assert set(owners) == {"reelgraph"}, owners


def test_the_console_script_runs_the_cli() -> None:
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="reelgraph")
    assert script.value.startswith("gql.cli"), script.value
    assert callable(script.load())
    binary = Path(sys.executable).parent / "reelgraph"
    if not binary.exists():
        pytest.skip("the project is not installed in this interpreter's environment")
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: reelgraph [OPTIONS] COMMAND [ARGS]..."), done.stdout
