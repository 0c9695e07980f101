"""Input hardening at the door: what no handler should have to think about.

Every request's path parameters and query string, and the fields of a JSON body or
a form, must be text: no NUL or other control character (tab, newline and carriage
return aside), no lone surrogate (which PostgreSQL cannot store). A JSON body is at
most `JSON_MAX_BYTES`, nested at most `JSON_MAX_DEPTH` deep (parsed first, so a deep
document is a clear 422, not a RecursionError), has no NaN/Infinity and no integer
beyond +-2**53. A failure is 422 `{"error": "FIELD: reason"}` naming the field as
`a.b[2]` (413 for a body too large), before any handler or the store sees it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from store.text import text_problem

JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32
INT_MAX = 2**53

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadInput(Exception):  # (not a ValueError: json.loads' own errors are those)
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _at(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_value(value: Any, where: str = "") -> None:
    """Walk a parsed JSON value without recursion; BadInput naming the first bad field."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            raise BadInput(422, f"{path or 'body'}: nested more than {JSON_MAX_DEPTH} levels deep")
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise BadInput(422, f"{path or 'body'}: {problem}")
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not -INT_MAX <= item <= INT_MAX:
            raise BadInput(422, f"{path or 'body'}: integer out of range (at most {INT_MAX} in size)")
        elif isinstance(item, dict):
            for key, sub in item.items():
                key_problem = text_problem(key)
                if key_problem:
                    raise BadInput(422, f"{_at(path, repr(key))}: the key {key_problem}")
                stack.append((sub, _at(path, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((sub, _at(path, n), depth + 1) for n, sub in enumerate(item))


def _no_constant(name: str) -> Any:
    raise BadInput(422, f"body: {name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """The parsed body (checked), or BadInput; a body that is not JSON is left to the
    handler's own 400."""
    if len(raw) > JSON_MAX_BYTES:
        raise BadInput(413, f"body: at most {JSON_MAX_BYTES} bytes")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadInput(422, f"body: nested more than {JSON_MAX_DEPTH} levels deep") from None
    except ValueError:
        return None
    check_value(value)
    return value


def check_pairs(pairs: Iterable[tuple[str, str]], kind: str) -> None:
    for key, value in pairs:
        for text in (key, value):
            problem = text_problem(text)
            if problem:
                raise BadInput(422, f"{key if text is value else kind}: {problem}")


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        check_pairs(request.match_info.items(), "path")
        check_pairs(request.query.items(), "query")
        if request.body_exists and request.content_type == "application/json":
            parse_json(await request.read())
        elif request.body_exists and request.content_type == "application/x-www-form-urlencoded":
            check_pairs(((k, str(v)) for k, v in (await request.post()).items()), "form")
    except BadInput as exc:
        if request.path.startswith(("/api/", "/reports/export.")):  # (the exports are in the API document)
            return web.json_response({"error": str(exc)}, status=exc.status)
        return web.Response(status=exc.status, text=f"{exc.status}: {exc}")
    return await handler(request)
