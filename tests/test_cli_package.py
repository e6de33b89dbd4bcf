"""gql.cli: every module imports on its own, in a fresh interpreter, and no module of the
package imports another in a cycle."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import gql.cli

PACKAGE = Path(gql.cli.__file__).parent
MODULES = sorted(f"gql.cli.{m.name}" for m in pkgutil.iter_modules([str(PACKAGE)]))


def _imports(module: str) -> set[str]:
    """The gql.cli modules `module` imports at its top level (not inside functions)."""
    path = PACKAGE / (module.removeprefix("gql.cli.") + ".py")
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found - {module}


def test_the_package_has_its_modules() -> None:
    for name in ("app", "serve", "keys", "maintenance", "watch", "demo", "client", "local"):
        assert f"gql.cli.{name}" in MODULES, MODULES


def test_no_module_of_the_package_imports_another_in_a_cycle() -> None:
    graph = {module: _imports(module) for module in MODULES if module != "gql.cli.__main__"}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle in gql.cli: {exc.args[1]}")
    assert set(order) == set(graph)
    assert not any("gql.cli.app" in imported for imported in graph.values()), graph


@pytest.mark.parametrize("module", [m for m in MODULES if m != "gql.cli.__main__"])
def test_each_module_imports_alone(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_old_modules_are_gone() -> None:
    gql_dir = PACKAGE.parent
    for old in ("cli.py", "cli_live.py", "demo.py", "live_client.py"):
        assert not (gql_dir / old).exists(), old
