"""The `reelgraph` command line, one module per concern, no module importing `app`:

- `app`: the Typer app with every command registered, and `main`;
- `serve`: `serve`, `worker`, `migrate` (the processes that run the service);
- `keys`: `keys create|list|revoke`;
- `maintenance`: `export-schema`, `gc`, `thumbnails`;
- `watch` (with `job_view`): follow a job live in a terminal;
- `demo`: the whole loop offline on the embedded default;
- `client`: GraphQL over HTTP and the `jobProgress` subscription, for terminals;
- `local`: `--data-dir`, settings and a `Runtime` for commands that open the database;
- `terminal`: the console, money formatting, Ctrl-C;
- `help_text`: plain `--help` pages (value names such as JOB_ID, no type tags).
"""

from __future__ import annotations


def main() -> None:
    """The `reelgraph` console script (imports the commands only when run)."""
    from gql.cli.app import main as run

    run()
