"""Bounds on what one GraphQL document may ask for, enforced before any resolver runs.

Each refusal is a request error whose `extensions` carry a stable `code`, the `limit`
and, where it was measured, the `measured` value:

- TOO_MANY_TOKENS: lexical tokens, comments included. graphql-core's parser stops at
  token `max_query_tokens + 1` (Strawberry's MaxTokensLimiter hands it `max_tokens`),
  so a flood costs at most that much lexing; the parse cache keeps no failure, and
  a document over the limit never gets into it. Before that, a document longer than
  the limit in characters is counted with one regular expression (gql.limits.tokens),
  some fifty times faster than the parser, so a flood is refused without being
  parsed. Either way the count stops at the limit: no `measured`. A document over
  `CACHED_TOKENS` (1,000) is kept by neither the parse nor the validation cache: a
  parsed document's memory goes with its tokens (gql.limits.tokens).
- QUERY_TOO_DEEP: nested selection sets, counted as Strawberry's QueryDepthLimiter
  counted them (`{ a { b } }` is 1; introspection fields are not counted, so
  GraphiQL's introspection query passes).
- TOO_MANY_ALIASES, TOO_MANY_FRAGMENT_SPREADS: counted as they would execute: a
  fragment's aliases and spreads count once per spread of it.
- QUERY_TOO_COSTLY: every field costs 1 times the page sizes of the paginated fields
  around it (a field with a `first` argument: its value, else the argument's default,
  else `default_page_size`; at most `max_page_size`). Other lists count as 1.
- INTROSPECTION_DISABLED: `__schema`/`__type` when `introspection` is off
  (graphql-core's NoSchemaIntrospectionCustomRule); `__typename` stays allowed.
- VALIDATION_ABORTED: graphql-core gave up validating: 100 errors, or the budget of
  its pairwise OverlappingFieldsCanBeMerged comparisons, which gql.limits.rules
  lowers from about a second of CPU to some 50 ms (OVERLAP_BUDGET). No `limit`.

Depth, aliases, spreads and cost are measured per operation in one walk of the
document in which each fragment is measured once, in dependency order and without
recursion between fragments (a spread that closes a cycle or names no fragment adds
nothing; the spec rules report those). Work is linear in the document even when the
counts it finds are exponential (a fragment spread twice in a fragment spread twice...).
The rule runs when validation enters the document, before any spec rule has looked at
a selection; when it refuses, it aborts the rest of validation (the last refusal is
raised as graphql-core's ValidationAbortedError, which `validate` returns as an error),
so the spec rules, the costliest of which is that overlap check, never run on it.

Variables: validation has no variable values. There a `first` given by a variable
counts as a page of 1, so the document must be affordable at that size. When an
operation declares variables, its cost is measured again with the request's values
when execution starts (`QueryLimitsExtension.on_execute`, before any resolver) and
refused there with the same error. Counts saturate at 2**53 - 1, so `measured` stays
exact in JSON for any reader.
"""

from gql.limits.extension import QueryLimitsExtension
from gql.limits.measure import Analysis, Limits, Measure
from gql.limits.rules import NoIntrospection, limits_rule, validation_rules
from gql.limits.tokens import LimitedParserCache, LimitedValidationCache, too_many_tokens

__all__ = [
    "Analysis",
    "LimitedParserCache",
    "LimitedValidationCache",
    "Limits",
    "Measure",
    "NoIntrospection",
    "QueryLimitsExtension",
    "limits_rule",
    "too_many_tokens",
    "validation_rules",
]
