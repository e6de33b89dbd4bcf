"""What a document asks for, per operation: depth, aliases, fragment spreads and cost,
each fragment measured once (see gql.limits)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from services.settings import Settings

CEILING = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    depth: int
    aliases: int
    spreads: int
    tokens: int
    cost: int
    introspection: bool
    max_page: int
    default_page: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            depth=settings.max_query_depth,
            aliases=settings.max_query_aliases,
            spreads=settings.max_fragment_spreads,
            tokens=settings.max_query_tokens,
            cost=settings.max_query_cost,
            introspection=settings.introspection,
            max_page=settings.max_page_size,
            default_page=settings.default_page_size,
        )


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    spreads: int = 0
    cost: int = 0


NOTHING = Measure()


def _sat(value: int) -> int:
    return min(value, CEILING)


class Analysis:
    """One document's measures; `visits` counts the selection sets walked (linearity)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        limits: Limits,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema, self.limits, self.variables = schema, limits, variables
        self.visits = 0
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measures: dict[str, Measure] = {}
        for name in self.fragments:
            self._measure_fragments_from(name)

    def operation(self, node: OperationDefinitionNode) -> Measure:
        return self._selection_set(node.selection_set, self.schema.get_root_type(node.operation))

    def _measure_fragments_from(self, root: str) -> None:
        """Measure `root` and the fragments it spreads, each after those it spreads."""
        if root in self.measures:
            return
        path: list[tuple[str, Iterator[str]]] = [(root, self._spreads_of(root))]
        on_path = {root}
        while path:
            name, pending = path[-1]
            for spread in pending:
                known = spread in self.fragments and spread not in self.measures
                if known and spread not in on_path:
                    path.append((spread, self._spreads_of(spread)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                fragment = self.fragments[name]
                type_ = self.schema.get_type(fragment.type_condition.name.value)
                self.measures[name] = self._selection_set(fragment.selection_set, type_)

    def _spreads_of(self, name: str) -> Iterator[str]:
        stack = [self.fragments[name].selection_set]
        while stack:
            for selection in stack.pop().selections:
                if isinstance(selection, FragmentSpreadNode):
                    yield selection.name.value
                elif isinstance(selection, (FieldNode, InlineFragmentNode)) and (
                    selection.selection_set
                ):
                    stack.append(selection.selection_set)

    def _selection_set(self, node: SelectionSetNode, type_: GraphQLNamedType | None) -> Measure:
        # Recursion only within one definition, which the parser nests 200 deep at most.
        self.visits += 1
        depth = aliases = spreads = cost = 0
        fields = getattr(type_, "fields", None) or {}
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                cost += 1
                if selection.selection_set is None:
                    continue
                definition = fields.get(selection.name.value)
                child_type = get_named_type(definition.type) if definition else None
                child = self._selection_set(selection.selection_set, child_type)
                page = self._page(selection, definition.args.get("first") if definition else None)
                if not selection.name.value.startswith("__"):
                    depth = max(depth, 1 + child.depth)
                cost += page * child.cost
                aliases, spreads = aliases + child.aliases, spreads + child.spreads
                continue
            if isinstance(selection, FragmentSpreadNode):
                child = self.measures.get(selection.name.value, NOTHING)
                spreads += 1
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else type_
                child = self._selection_set(selection.selection_set, inner)
            else:
                continue
            depth = max(depth, child.depth)
            cost, aliases = cost + child.cost, aliases + child.aliases
            spreads += child.spreads
        return Measure(depth, _sat(aliases), _sat(spreads), _sat(cost))

    def _page(self, field: FieldNode, argument: Any) -> int:
        """The page size of a field with a `first` argument; 1 for any other field."""
        if argument is None:
            return 1
        value: Any = None
        for arg in field.arguments or ():
            if arg.name.value == "first":
                value = arg.value
        if isinstance(value, VariableNode):
            value = 1 if self.variables is None else self.variables.get(value.name.value)
        elif isinstance(value, IntValueNode):
            value = int(value.value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # graphql-core's Int takes 100.0 as 100: so is it priced
        if not isinstance(value, int) or isinstance(value, bool):
            default = argument.default_value
            value = default if isinstance(default, int) else self.limits.default_page
        return max(0, min(int(value), self.limits.max_page))
