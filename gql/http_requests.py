"""The shape of a GraphQL-over-HTTP request, checked before anything runs: the JSON
body or GET parameters, a multipart upload's `operations` and `map`, and which of the
document's operations to run. Each fault is a `Refusal` (400), never an exception
from deep inside a library."""

from __future__ import annotations

import itertools
import json
import re
from array import array
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from strawberry.http import GraphQLRequestData

from gql.http_limits import Refusal
from gql.limits.tokens import count_operations, too_many_tokens

MAX_JSON_DEPTH = 64  # far above any real variables; far below Python's recursion limit

# A JSON string, or an unterminated one up to the end: strings are dropped before the
# brackets are counted. Possessive, so it runs in time linear in the body.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth(raw: str | bytes) -> int:
    """How deep `raw` nests arrays and objects, without parsing it (linear, no recursion)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    signs = _STRING.sub(b"", data).translate(_SIGNS, _NOT_BRACKETS)
    return max(itertools.accumulate(array("b", signs)), default=0)


def _opened(raw: str | bytes) -> int:
    """How many arrays and objects `raw` could open: a bound on its depth, counted in C."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def decode_json(raw: str | bytes) -> object:
    # a body with no more brackets than the limit cannot nest past it: most bodies
    if _opened(raw) > MAX_JSON_DEPTH and json_depth(raw) > MAX_JSON_DEPTH:
        raise Refusal(400, f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(raw)
    except RecursionError:
        raise Refusal(400, f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError:  # JSONDecodeError, or bytes that are not UTF-8/16/32
        raise Refusal(400, "Unable to parse the request's JSON.") from None


def _object_or_none(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is not None and not isinstance(value, dict):
        raise Refusal(400, f"The request's `{name}` must be an object or null.")
    return value


def request_data(data: object) -> GraphQLRequestData:
    """One GraphQL request from a decoded body (or GET parameters), its fields checked."""
    if isinstance(data, list):
        raise Refusal(400, "Batching is not enabled: send one operation per request.")
    if not isinstance(data, dict):
        raise Refusal(400, "The request must be a JSON object with a `query`.")
    query = data.get("query")
    if query is None or (isinstance(query, str) and not query.strip()):
        raise Refusal(400, "No GraphQL query found in the request: send `query`.")
    if not isinstance(query, str):
        raise Refusal(400, "The request's `query` must be a string.")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise Refusal(400, "The request's `operationName` must be a string or null.")
    return GraphQLRequestData(
        query=query,
        variables=_object_or_none(data, "variables"),
        operation_name=operation_name or None,
        extensions=_object_or_none(data, "extensions"),
        protocol="http",
    )


def operations_with_files(form: Mapping[str, Any]) -> object:
    """A multipart request's `operations`, each file put where `map` says
    (the GraphQL multipart request specification)."""
    operations_field, map_field = form.get("operations"), form.get("map")
    if not isinstance(operations_field, str) or not isinstance(map_field, str):
        raise Refusal(400, "A multipart request needs `operations` and `map` fields.")
    operations = decode_json(operations_field)
    files_map = decode_json(map_field)
    if isinstance(operations, list):
        raise Refusal(400, "Batching is not enabled: send one operation per request.")
    if not isinstance(operations, dict):
        raise Refusal(400, "The multipart `operations` must be a JSON object.")
    if not isinstance(files_map, dict):
        raise Refusal(400, "The multipart `map` must be an object of file fields to paths.")
    for field, paths in files_map.items():
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise Refusal(400, f"`map` entry {field!r} must be a non-empty list of paths.")
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise Refusal(400, f"File {field!r} named in `map` is missing from the request.")
        for path in paths:
            _place(operations, path, upload)
    return operations


def _place(operations: dict[str, Any], path: str, upload: UploadFile) -> None:
    """Put `upload` at `path` (`variables.input.file`, `variables.files.0`), which must
    lead through `variables` to a null placeholder."""
    keys = path.split(".")
    if len(keys) < 2 or keys[0] != "variables":
        raise Refusal(400, f"`map` path {path!r} must point into `variables`.")
    target: Any = operations
    for index, key in enumerate(keys):
        if isinstance(target, dict) and key in target:
            step: Any = key
        elif isinstance(target, list) and key.isdecimal() and int(key) < len(target):
            step = int(key)
        else:
            raise Refusal(400, f"`map` path {path!r} does not exist in `operations`.")
        if index == len(keys) - 1:
            if target[step] is not None:
                raise Refusal(400, f"`map` path {path!r} must point at a null placeholder.")
            target[step] = upload
        else:
            target = target[step]


def check_operation_named(query: str, operation_name: str | None, max_tokens: int) -> None:
    """Refuse a document of several operations that does not name the one to run
    (an unknown name is refused where Strawberry looks it up). Counted from the
    tokens, so the document is parsed once, by the schema, not twice."""
    if operation_name is not None or too_many_tokens(query, max_tokens):
        return  # over the token limit: the schema's parse refuses it with its code
    count = count_operations(query)
    if count > 1:
        raise Refusal(
            400, f"The document has {count} operations: name the one to run in `operationName`."
        )
