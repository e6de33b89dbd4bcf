"""Node types made from rows, and pages of them made only when something reads them.

A node type whose attributes are all computed from its row and a few per-request values
(an asset: its row, and the URL signer that signs its download URL) declares how, once,
as a `RowSpec`: one Python expression per attribute. The spec gives the type's
constructor (`RowSpec.constructor`), and gives gql.execution what it needs to complete
a page of such nodes straight from their rows, without making a node or an edge object
for each (`RowEdges`, and `_edges_from_rows` in gql.execution): 1,000 assets are 2,000 objects
built only to be read back into dicts.

`Connection.of` keeps a page made by a `RowMaker` as `RowEdges`: a sequence that builds
its edges the first time anything reads them, so graphql-core's own path, and every
other reader, sees the same edges as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

NodeT = TypeVar("NodeT")


@dataclass(frozen=True, eq=False)
class RowSpec:
    """How a node type's attributes come from `row` and the per-request `context` names:
    `setup` statements run first (a value two attributes share), then one expression per
    attribute, with `names` as the globals the expressions use."""

    node_type: type[Any]
    setup: tuple[str, ...]
    values: Mapping[str, str]
    context: tuple[str, ...] = ()
    names: Mapping[str, Any] = field(default_factory=dict)

    def source(self, indent: str) -> list[str]:
        """The setup statements, at `indent`."""
        return [indent + line for line in self.setup]

    def constructor(self) -> Callable[..., Any]:
        """`make(row, *context)` -> the node: what the plan computes, as an object."""
        arguments = ", ".join(f"{name}={expression}" for name, expression in self.values.items())
        lines = [
            f"def make(row, {', '.join(self.context)}):" if self.context else "def make(row):",
            *self.source("    "),
            f"    return node_type({arguments})",
        ]
        env = {**self.names, "node_type": self.node_type}
        name = f"<row constructor of {self.node_type.__name__}>"
        exec(compile("\n".join(lines), name, "exec"), env)  # noqa: S102
        make: Callable[..., Any] = env["make"]
        return make


class RowMaker(Generic[NodeT]):
    """A node for a row, with this request's context (`Asset.signed`): callable as a
    converter, and tells `Connection.of` that its pages can be completed from rows."""

    __slots__ = ("context", "make", "spec")

    def __init__(self, spec: RowSpec, make: Callable[..., NodeT], context: tuple[Any, ...]) -> None:
        self.spec, self.make, self.context = spec, make, context

    def __call__(self, row: Any) -> NodeT:
        return self.make(row, *self.context)


class RowEdges(Sequence[Any]):
    """A page's edges, built from its rows by `maker` the first time they are read."""

    __slots__ = ("_built", "edge_type", "maker", "rows")

    def __init__(
        self, rows: Sequence[Any], maker: RowMaker[Any], edge_type: Callable[..., Any]
    ) -> None:
        self.rows, self.maker, self.edge_type = rows, maker, edge_type
        self._built: list[Any] | None = None

    def built(self) -> list[Any]:
        if self._built is None:
            make, edge = self.maker, self.edge_type
            self._built = [edge(node=make(row), row=row) for row in self.rows]
        return self._built

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.built())

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.built()[index]


_SPECS: dict[type[Any], RowSpec] = {}


def register(spec: RowSpec) -> RowSpec:
    """Make `spec` the one gql.execution completes `spec.node_type`'s pages with."""
    _SPECS[spec.node_type] = spec
    return spec


def spec_of(node_type: type[Any] | None) -> RowSpec | None:
    return _SPECS.get(node_type) if node_type is not None else None
