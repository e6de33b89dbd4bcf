"""The token limit: a fast count before the parse, and the parser's own limit after; and
the parse and validation caches, which keep small documents only.

A parsed document takes some 600 bytes a token (measured: 6.1 MB for 10,000 tokens, the
most a document may have, in 60 KB of text), and Strawberry's caches keep 512 documents
each whatever their size: a flood of distinct 10,000-token documents would have held
some 3 GB in each. Documents over `CACHED_TOKENS` are parsed and validated afresh each
time, so each cache holds some 300 MB at most (and the two mostly the same documents).
A long query that runs to data still gets its speed back as a prepared query
(gql/prepared.py), which keeps queries within a token budget of its own."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError, parse
from strawberry.extensions import ParserCache, ValidationCache

from gql.limits.measure import Limits
from gql.limits.rules import limit_error

CACHED_TOKENS = 1_000
"""Documents with more tokens than this are not kept by the parse or validation cache."""
PARSER_LIMIT_MESSAGE = "Syntax Error: Document contains more than {limit} tokens. Parsing aborted."

# GraphQL's tokens as graphql-core's `max_tokens` counts them (comments included). Every
# alternative always matches once started (an unterminated string runs to the end of its
# line or of the document), so the scan never backtracks: linear, in C; runs of plain
# characters inside a string are taken whole, not one alternation a character. It may count
# fewer tokens than the parser (characters it does not know are skipped), never more on
# a document the parser accepts, so it refuses nothing that the parser would not.
TOKEN = re.compile(
    r'"""(?:[^"\\]+|\\"""|\\|"(?!""))*(?:"""|$)'
    r'|"(?:[^"\\\n\r]+|\\.)*"?'
    r"|#[^\n\r]*"
    r"|[_A-Za-z][_0-9A-Za-z]*"
    r"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    r"|\.\.\."
    r"|[!$&():=@\[\]{|}]"
)


def too_many_tokens(query: str, limit: int) -> bool:
    """True when `query` has more than `limit` tokens; stops counting there."""
    if len(query) <= limit:  # a token is one character at least
        return False
    return next(itertools.islice(TOKEN.finditer(query), limit, None), None) is not None


OPERATION_KEYWORDS = frozenset({"{", "query", "mutation", "subscription"})


def count_operations(query: str) -> int:
    """The operations a document defines, from its tokens alone (no parse): a
    definition starts at the document's start or after the `}` that closes the one
    before it (object values, in arguments and default values, sit inside parentheses),
    and an operation's first token is `{` or its keyword. Exact for any document that
    parses; for one that does not, the parse reports the error."""
    count = braces = parens = 0
    boundary = True
    for match in TOKEN.finditer(query):
        lexeme = match[0]
        if lexeme[0] == "#":
            continue
        if boundary:
            count += lexeme in OPERATION_KEYWORDS
            boundary = False
        if lexeme == "(":
            parens += 1
        elif lexeme == ")":
            parens -= 1
        elif lexeme == "{":
            braces += 1
        elif lexeme == "}" and braces > 0:
            braces -= 1
            boundary = braces == 0 and parens <= 0
    return count


def token_error(limits: Limits) -> GraphQLError:
    message = f"The document has more than {limits.tokens} tokens; the limit is {limits.tokens}."
    return limit_error("TOO_MANY_TOKENS", message, limits.tokens)


def typed_token_error(error: GraphQLError, limits: Limits) -> GraphQLError:
    """The parser's refusal at the token limit, with its code; any other error as it is."""
    if error.original_error is None and error.message == PARSER_LIMIT_MESSAGE.format(
        limit=limits.tokens
    ):
        return token_error(limits)
    return error


class LimitedParserCache(ParserCache):
    """Strawberry's ParserCache, refusing a document over the token limit with its code:
    counted first (`too_many_tokens`), then parsed with the `max_tokens` that
    MaxTokensLimiter puts in the parse options. The parse runs in this hook, so its
    error leaves through here (and is logged without the document). A document over
    `CACHED_TOKENS` is parsed without the cache."""

    def __init__(self, limits: Limits, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and too_many_tokens(query, self.limits.tokens):
            raise token_error(self.limits)
        if query and too_many_tokens(query, CACHED_TOKENS):
            try:
                context.graphql_document = parse(query, **context.parse_options)
            except GraphQLSyntaxError as error:
                raise typed_token_error(error, self.limits) from None
            yield
            return
        try:
            yield from super().on_parse()
        except GraphQLSyntaxError as error:
            raise typed_token_error(error, self.limits) from None


class LimitedValidationCache(ValidationCache):
    """Strawberry's ValidationCache, which keeps a document for every result it keeps;
    a document over `CACHED_TOKENS` is validated without it, as Strawberry does with no
    cache."""

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document  # lazily, as Strawberry does

        context = self.execution_context
        if context.query and too_many_tokens(context.query, CACHED_TOKENS):
            assert context.graphql_document is not None
            context.pre_execution_errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            yield
            return
        yield from super().on_validate()
