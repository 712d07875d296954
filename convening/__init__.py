"""Partnership sessions, briefing composition, PDF rendering, decisions and actions, and the funders' library."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from convening import models  # noqa: F401  (register the tables with the metadata)
