"""Counting the SQL queries of each request, for the benchmark's table (benchmarks only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

QUERIES_HEADER = "X-Bench-Queries"


class QueryCountMiddleware:
    """Count every query run while the request is handled (middleware included) and say
    how many in the ``X-Bench-Queries`` response header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = 0

        def counted(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        response[QUERIES_HEADER] = str(count)
        return response
