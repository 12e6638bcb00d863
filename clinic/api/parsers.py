"""The API's JSON parser: DRF's, refusing a body nested deeper than any request needs with
a 400 that says so, before anything is read from it (Python's JSON decoder and everything
after it recurse once per level, and a thousand levels would end in a RecursionError)."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request body of the API goes past three levels (an object of lists or of objects).
MAX_JSON_DEPTH = 32
TOO_DEEP = (
    f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep. Nothing was saved: "
    f"send the fields as the API schema describes them, with objects and arrays nested at "
    f"most {MAX_JSON_DEPTH} levels deep."
)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a 400 (``TOO_DEEP``) for a body nested too deeply."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if _nested_deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(TOO_DEEP)
        return data


def _nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether objects and arrays in ``data`` are nested more than ``limit`` levels deep
    (walked without recursion, so any depth can be measured)."""
    waiting = [(data, 1)]
    while waiting:
        value, depth = waiting.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        waiting.extend((child, depth + 1) for child in children)
    return False
