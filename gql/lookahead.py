"""Look ahead from a connection field to the fields its nodes are asked for, so that a page
reads only the columns those need (an asset row has 16; a typical page asks for 7).

`node_fields(info)` collects the field names selected under `edges { node { ... } }` and
`nodes { ... }`, through fragments and inline fragments. Directives are not evaluated: a
field under `@skip` still counts, so the set can only be larger than what is served. The
answer is kept per field node (the parser cache keeps a document's nodes), so a page of 50
campaigns walks its selection once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from gql.context import Info

KEPT = 1024


class _Selection:
    """Field nodes as a cache key: by identity (a node hashes by its whole subtree)."""

    __slots__ = ("fragments", "nodes")

    def __init__(self, nodes: tuple[FieldNode, ...], fragments: dict[str, Any]) -> None:
        self.nodes, self.fragments = nodes, fragments

    def __hash__(self) -> int:
        return hash(tuple(map(id, self.nodes)))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Selection)
            and len(self.nodes) == len(other.nodes)
            and all(a is b for a, b in zip(self.nodes, other.nodes, strict=True))
        )


def columns_read(info: Info, columns_of: Mapping[str, tuple[str, ...]]) -> frozenset[str] | None:
    """The row columns that the nodes of the connection `info` resolves need, beyond those
    every row holds (its id, its creation time, its parent's id): `columns_of` maps each
    field of the node type to the columns its value and its resolver read. None (read
    every column) for a field that `columns_of` does not know."""
    keys: set[str] = set()
    for name in node_fields(info):
        found = columns_of.get(name)
        if found is None:
            return None
        keys.update(found)
    return frozenset(keys)


def node_fields(info: Info) -> frozenset[str]:
    """Field names selected on the nodes of the connection that `info` resolves."""
    raw = info._raw_info
    return _node_fields(_Selection(tuple(raw.field_nodes), raw.fragments))


@functools.lru_cache(maxsize=KEPT)
def _node_fields(selection: _Selection) -> frozenset[str]:
    fragments = selection.fragments
    names: set[str] = set()
    for field in selection.nodes:
        for outer in _fields(field.selection_set, fragments):
            if outer.name.value == "edges":
                for inner in _fields(outer.selection_set, fragments):
                    if inner.name.value == "node":
                        names.update(f.name.value for f in _fields(inner.selection_set, fragments))
            elif outer.name.value == "nodes":
                names.update(f.name.value for f in _fields(outer.selection_set, fragments))
    return frozenset(names)


def _fields(
    selections: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                out.extend(_fields(fragment.selection_set, fragments))
    return out
