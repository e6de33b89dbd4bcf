"""`python -m gql.cli ...`: the `reelgraph` command without its console script."""

from gql.cli.app import app

app(prog_name="reelgraph")
