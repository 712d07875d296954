"""What the database-backed page benchmarks (area_profiles.py, scale.py, composer.py) share: the app configured as a
served one runs (garbage-collection freeze on, no CSRF or rate limits for the scripted clients) and the percentile
they report."""

from __future__ import annotations

import statistics
import tempfile


def page_app(database_url: str, redis_url: str | None = None):
    """The Flask app on the benchmark's own database (emptied or reused by the script)."""
    from webapp import create_app

    return create_app(
        {
            "COMMINTEL_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "COMMINTEL_INSTANCE_DIR": tempfile.mkdtemp(prefix="commintel-bench-"),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            # As a served app has it (auto is on outside testing): start-up objects left out of garbage collection.
            "COMMINTEL_GC_FREEZE": True,
        }
    )


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)
