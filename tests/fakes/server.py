"""Loopback servers for tests: `gql.serving.serve_app` runs any ASGI app on 127.0.0.1."""

from gql.serving import serve_app

__all__ = ["serve_app"]
