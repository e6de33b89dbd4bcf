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
# line or of the document), so the scan never backtracks: linear, in C. It may count
# fewer tokens than the parser (characters it does not know are skipped), never more on
# a document the parser accepts, so it refuses nothing that the parser would not.
TOKEN = re.compile(
    r'"""(?:\\"""|[^"]|"(?!""))*(?:"""|$)'
    r'|"(?:\\.|[^"\\\n\r])*"?'
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
