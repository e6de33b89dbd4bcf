"""The installed project: `gql` is this project's package (PyPI's `gql` client library
would install a top-level package of the same name over it, so the test environment
never has it), and the `reelgraph` console script runs the CLI."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

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


SERVER_PACKAGES = ("gql", "services", "db", "jobs")


def test_the_server_imports_only_what_the_runtime_lock_installs() -> None:
    """Every third-party module the server's packages import belongs to a distribution
    in requirements/runtime.txt (the README's install), not only in the test extra:
    orjson once passed every test here while `reelgraph serve` failed for a newcomer."""
    runtime = {
        canonicalize_name(name)
        for name in re.findall(
            r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", (ROOT / "requirements" / "runtime.txt").read_text(),
            re.M,
        )
    }  # fmt: skip
    owners = importlib.metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for package in SERVER_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in SERVER_PACKAGES:
                        continue
                    distributions = {canonicalize_name(d) for d in owners.get(top, [])}
                    if not distributions & runtime:
                        missing.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    assert not missing, f"imported by the server but not in requirements/runtime.txt: {missing}"
