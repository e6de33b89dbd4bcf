"""The token limit: a fast count before the parse, and the parser's own limit after."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import ParserCache

from gql.limits.measure import Limits
from gql.limits.rules import limit_error

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
    error leaves through here (and is logged without the document)."""

    def __init__(self, limits: Limits, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query and too_many_tokens(query, self.limits.tokens):
            raise token_error(self.limits)
        try:
            yield from super().on_parse()
        except GraphQLSyntaxError as error:
            raise typed_token_error(error, self.limits) from None
