"""The `reelgraph` command: every command registered in one place, help pages plain."""

from __future__ import annotations

import typer

from gql.cli import demo, keys, maintenance, serve, watch
from gql.cli.help_text import Command

app = typer.Typer(
    help="reelgraph: GraphQL API for an AI ad-video studio.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
keys_app = typer.Typer(
    help="Create, list and revoke API keys.", no_args_is_help=True, rich_markup_mode=None
)

app.command(cls=Command)(serve.serve)
app.command(cls=Command)(serve.worker)
app.command(cls=Command)(serve.migrate)
app.command("export-schema", cls=Command)(maintenance.export_schema)
app.command(cls=Command)(maintenance.gc)
app.command(cls=Command)(maintenance.thumbnails)
app.command(cls=Command)(watch.watch)
app.command(cls=Command)(demo.demo)
keys_app.command("create", cls=Command)(keys.create)
keys_app.command("revoke", cls=Command)(keys.revoke)
keys_app.command("list", cls=Command)(keys.list_)
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
