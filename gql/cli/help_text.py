"""Plain `--help` pages: values named like `--port PORT` and `JOB_ID`, flags bare.

Typer's own pages tag every parameter with its Python type (`<bool>` even on a flag
that takes no value, `<str>`) and brace required arguments in the usage line
(`{job_id}`). Commands built with `Command`, in an app with `rich_markup_mode=None`,
print click's classic layout instead. Typer vendors click privately (`typer._click`), so
this touches only typer's public classes and click's documented hooks
(`collect_usage_pieces`, `format_options`); tests/test_cli_help.py fails if they move.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperOption


def value_name(param: TyperArgument | TyperOption) -> str:
    """The placeholder a parameter's value goes by: its metavar, else its name in capitals."""
    return param.metavar or (param.name or "value").upper()


class Command(TyperCommand):
    """A Typer command whose help names values (PORT, JOB_ID) and shows no type tags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
                param.metavar = value_name(param)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = value_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        arguments = [(value_name(p), p.help or "") for p in params if isinstance(p, TyperArgument)]
        options: list[tuple[str, str]] = []
        for param in params:
            record = param.get_help_record(ctx) if isinstance(param, TyperOption) else None
            if record is not None:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)
