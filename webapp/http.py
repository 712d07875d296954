"""The Flask app class: bounded whole numbers in addresses and query strings, and requests that retry a lost race
to write on SQLite. Every route gets both without doing anything.

- ``<int:...>`` in a route matches only ids the database can hold (PostgreSQL ``integer``): a longer number is a 404,
  not an OverflowError inside the query (``/observations/99999999999999999999``).
- ``request.args.get(name, type=int)`` (and ``request.form``) answers 400 naming the parameter when the number is out
  of that range (``?page=99999999999999999999``), instead of handing it to SQL.
- A request whose view lost the race to write on SQLite is run again (see :mod:`webapp.transactions`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from webapp.transactions import dispatch_with_retry

# The largest id any table holds: ids are PostgreSQL ``integer`` columns (SQLite's are 64-bit, but the same rule
# applies everywhere).
DB_INT_MAX = 2**31 - 1


class NumberOutOfRange(BadRequest):
    """A whole number in the query string or form that no record or page can have."""

    def __init__(self, name: str):
        super().__init__(f"'{name}' must be a whole number from {-DB_INT_MAX - 1:,} to {DB_INT_MAX:,}.")


class BoundedIntConverter(IntegerConverter):
    """Flask's ``int`` converter, limited to what the database holds (a longer number is no match: 404)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's argument name
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class BoundedArgs(ImmutableMultiDict):
    """Query-string and form values whose ``get(..., type=int)`` refuses numbers the database cannot hold."""

    # One signature for werkzeug's overloads of get (the type checker wants each of them spelt out).
    def get(self, key, default=None, type=None):  # type: ignore[override]  # noqa: A002 - MultiDict's names
        value = super().get(key, default, type)
        if type is int and isinstance(value, int) and not -DB_INT_MAX - 1 <= value <= DB_INT_MAX:
            raise NumberOutOfRange(str(key))
        return value


class CommintelRequest(Request):
    parameter_storage_class = BoundedArgs


class CommintelFlask(Flask):
    request_class = CommintelRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before any route is added: rules look their converters up when they are compiled.
        self.url_map.converters["int"] = BoundedIntConverter

    def dispatch_request(self):
        return dispatch_with_retry(super().dispatch_request)
