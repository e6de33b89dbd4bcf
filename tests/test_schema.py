"""`schema.graphql` is exactly what the server serves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from gql.schema import export_sdl
from tests.client import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_schema_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text() == export_sdl(), (
        "schema.graphql is stale: run `reelgraph export-schema > schema.graphql`"
    )


def test_cli_prints_the_same_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from gql.cli import main; main()", "export-schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == (ROOT / "schema.graphql").read_text()


async def test_served_schema_matches_the_file(admin: GraphQLClient) -> None:
    data = await admin.execute(
        get_introspection_query(
            descriptions=True,
            specified_by_url=True,
            directive_is_repeatable=True,
            one_of=True,
            input_value_deprecation=True,
        )
    )
    served = build_client_schema(data)  # type: ignore[arg-type]
    checked_in = build_schema((ROOT / "schema.graphql").read_text())
    assert print_schema(lexicographic_sort_schema(served)) == print_schema(
        lexicographic_sort_schema(checked_in)
    )
