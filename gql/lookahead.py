"""Look ahead from a connection field to the fields its nodes are asked for, so that a page
reads only the columns those need (an asset row has 16; a typical page asks for 7).

`node_fields(info)` collects the field names selected under `edges { node { ... } }` and
`nodes { ... }`, through fragments and inline fragments. Directives are not evaluated: a
field under `@skip` still counts, so the set can only be larger than what is served. The
answer is kept per field node (the parser cache keeps a document's nodes), so a page of 50
campaigns walks its selection once.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from gql.context import Info

KEPT = 1024


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


_found: OrderedDict[tuple[int, ...], tuple[tuple[FieldNode, ...], frozenset[str]]] = OrderedDict()
"""Field nodes' ids -> those nodes (kept, so their ids stay theirs) and the names: a dict
and identity checks, where an `lru_cache` keyed by an object of ours cost two calls of
Python (`__hash__`, `__eq__`) a lookup, a fifth of what a one-row query spends in a
resolver of its own. First in, first out past `KEPT` selections: a hit is not moved to the
end, and a selection pushed out is walked again, as any miss is."""


def node_fields(info: Info) -> frozenset[str]:
    """Field names selected on the nodes of the connection that `info` resolves."""
    raw = info._raw_info
    nodes = raw.field_nodes
    key = tuple(map(id, nodes))
    found = _found.get(key)
    if found is not None and all(map(operator.is_, found[0], nodes)):
        return found[1]
    names = _node_fields(nodes, raw.fragments)
    _found[key] = (tuple(nodes), names)
    if len(_found) > KEPT:
        _found.popitem(last=False)
    return names


def _node_fields(
    nodes: list[FieldNode], fragments: dict[str, FragmentDefinitionNode]
) -> frozenset[str]:
    names: set[str] = set()
    for field in nodes:
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
