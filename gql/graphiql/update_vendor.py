"""Fetch the vendored GraphiQL build from npm into `static/vendor/`, with its licences.

    .venv/bin/python -m gql.graphiql.update_vendor            # refetch the pinned versions
    .venv/bin/python -m gql.graphiql.update_vendor --check    # compare with the files here

A developer's tool, never run by the server (which fetches nothing at runtime). It needs
`npm` and the registry. The files are copied byte for byte from the packages' tarballs
(`npm pack`); `MANIFEST.json` records each one's package, version, tarball integrity and
sha256, and `tests/test_graphiql.py` fails when a file differs from it.
`THIRD-PARTY-LICENSES.txt` holds the licence text of every package the files are built
from: React's, and everything `graphiql.min.js` bundles, which is graphiql's production
dependency tree (`npm install` of the pinned versions) plus `BUNDLED_EXTRA`.
To upgrade, change the versions below, run it, read the diff, run the GraphiQL tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

GRAPHIQL = "4.1.2"  # the last release with a prebuilt browser (UMD) build: 5.x is ESM only
REACT = "18.3.1"  # the last React with UMD builds; graphiql 4's UMD expects React 18
GRAPHQL = "16"  # bundled into graphiql.min.js (its peer dependency)
BUNDLED_EXTRA = ["graphql-ws@5"]  # bundled by graphiql's build from its toolkit's dev deps

# (package, version, file inside the tarball, name in static/vendor/)
FILES = [
    ("react", REACT, "umd/react.production.min.js", "react.production.min.js"),
    ("react-dom", REACT, "umd/react-dom.production.min.js", "react-dom.production.min.js"),
    ("graphiql", GRAPHIQL, "graphiql.min.js", "graphiql.min.js"),
    ("graphiql", GRAPHIQL, "graphiql.min.css", "graphiql.min.css"),
]
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST = "MANIFEST.json"
LICENSES = "THIRD-PARTY-LICENSES.txt"
LICENSE_NAMES = ("license", "licence", "copying", "notice")


def npm(*args: str, cwd: Path) -> str:
    binary = shutil.which("npm")
    assert binary, "npm is not installed"
    done = subprocess.run(  # noqa: S603 (a developer's tool; arguments are ours)
        [binary, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout


def pack(spec: str, into: Path) -> tuple[Path, dict[str, Any]]:
    """`npm pack spec`, unpacked: the package directory and npm's report on the tarball."""
    (info,) = json.loads(npm("pack", spec, "--json", "--pack-destination", str(into), cwd=into))
    target = into / f"{info['name']}@{info['version']}".replace("/", "__")
    with tarfile.open(into / info["filename"]) as tar:
        tar.extractall(target, filter="data")
    return target / "package", info


def licence_text(package_dir: Path, meta: dict[str, Any]) -> str:
    files = sorted(
        p for p in package_dir.iterdir() if p.is_file() and p.name.lower().startswith(LICENSE_NAMES)
    )
    if files:
        return "\n\n".join(p.read_text(encoding="utf-8").strip() for p in files)
    author = meta.get("author")
    if isinstance(author, dict):
        author = author.get("name")
    return (
        f"{meta.get('license', 'UNKNOWN')} licence, as declared in the package's package.json "
        f"(the package ships no licence file). Author: {author or 'not stated'}."
    )


def dependency_tree(work: Path) -> list[dict[str, Any]]:
    """graphiql's production tree as npm resolves it today, React and graphql included."""
    tree = work / "tree"
    tree.mkdir()
    (tree / "package.json").write_text('{"name": "vendor-tree", "private": true}')
    npm(
        "install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev",
        f"graphiql@{GRAPHIQL}", f"react@{REACT}", f"react-dom@{REACT}", f"graphql@{GRAPHQL}",
        cwd=tree,
    )  # fmt: skip
    found: list[dict[str, Any]] = json.loads(npm("query", "*", cwd=tree))
    packages = []
    for meta in found:
        if not meta.get("location") or meta["name"].startswith("@types/"):
            continue  # the tree's own root; type declarations, which no bundle contains
        meta["text"] = licence_text(tree / meta["location"], meta)
        packages.append(meta)
    for spec in BUNDLED_EXTRA:
        package_dir, _ = pack(spec, work)
        meta = json.loads((package_dir / "package.json").read_text())
        meta["text"] = licence_text(package_dir, meta)
        packages.append(meta)
    return packages


def licences(packages: list[dict[str, Any]]) -> str:
    """One section per distinct licence text, naming every package it covers."""
    by_text: dict[str, list[str]] = {}
    for meta in sorted(packages, key=lambda m: (m["name"], m["version"])):
        entry = f"{meta['name']}@{meta['version']} ({meta.get('license', 'UNKNOWN')})"
        by_text.setdefault(meta["text"], []).append(entry)
    head = (
        "Third-party software in this directory (see MANIFEST.json for the files).\n"
        f"react.production.min.js, react-dom.production.min.js: react and react-dom {REACT}.\n"
        f"graphiql.min.js, graphiql.min.css: graphiql {GRAPHIQL} and the packages it bundles.\n"
        "Made by gql/graphiql/update_vendor.py.\n"
    )
    sections = [
        "=" * 78 + "\n" + "\n".join(names) + "\n" + "-" * 78 + "\n" + text
        for text, names in by_text.items()
    ]
    return head + "\n\n" + "\n\n".join(sections) + "\n"


def fetch(work: Path) -> dict[str, bytes]:
    """Every vendored file's new bytes, by its name in static/vendor/."""
    out: dict[str, bytes] = {}
    manifest: dict[str, Any] = {"generator": "gql/graphiql/update_vendor.py", "files": {}}
    unpacked: dict[str, tuple[Path, dict[str, Any]]] = {}
    for package, version, source, name in FILES:
        spec = f"{package}@{version}"
        if spec not in unpacked:
            unpacked[spec] = pack(spec, work)
        package_dir, info = unpacked[spec]
        data = (package_dir / source).read_bytes()
        out[name] = data
        manifest["files"][name] = {
            "package": package,
            "version": info["version"],
            "source": f"{spec}/{source}",
            "integrity": info["integrity"],
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    out[LICENSES] = licences(dependency_tree(work)).encode()
    out[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="report differences, write none")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        print("npm is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="graphiql-vendor-") as tmp:
        files = fetch(Path(tmp))
    stale = sorted(
        name
        for name, data in files.items()
        if not (VENDOR / name).exists() or (VENDOR / name).read_bytes() != data
    )
    extra = (
        sorted(p.name for p in VENDOR.glob("*") if p.name not in files) if VENDOR.exists() else []
    )
    if args.check:
        for name in stale:
            print(f"differs: {name}")
        for name in extra:
            print(f"not from npm: {name}")
        return 1 if stale or extra else 0
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (VENDOR / name).unlink()
    for name, data in files.items():
        (VENDOR / name).write_bytes(data)
    print(f"{len(stale)} file(s) updated, {len(extra)} removed, in {VENDOR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
