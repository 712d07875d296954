"""Fail when code outside the commit points commits or rolls back a database session (run by ``make lint``).

A request commits once, in :func:`webapp.transactions.dispatch_with_retry`; tasks and jobs through
:func:`webapp.transactions.write` and :func:`webapp.jobs.running`; commands through
:func:`webapp.transactions.command`. Views, operations, queries, tasks and commands themselves never call
``session.commit()`` / ``session.rollback()`` (nor ``begin_nested``'s commit): a second commit point splits what
should be one transaction, and a hand-made rollback hides which writes a failure kept.

Usage: ``python tools/check_commit_points.py [PATH ...]`` (default: the five packages). Exit status 1 lists
``file:line: session.commit()`` for each offence.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webapp", "submissions", "nlp", "indicators", "convening")
# The commit points: the only modules allowed to end a session's transaction.
ALLOWED = frozenset({"webapp/transactions.py", "webapp/jobs.py"})
ENDINGS = frozenset({"commit", "rollback"})


def offences(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """``(line, call)`` for every ``<...>.session.commit()``/``.rollback()`` (or ``session.commit()``) in ``path``."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ENDINGS):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
        if name == "session" or name.endswith("_session"):
            found.append((node.lineno, f"{name}.{node.func.attr}()"))
    return sorted(found)


def _files(paths: list[str]) -> list[Path]:
    roots = [Path(p) for p in paths] if paths else [ROOT / p for p in PACKAGES]
    files: list[Path] = []
    for root in roots:
        files.extend(sorted(root.rglob("*.py")) if root.is_dir() else [root])
    return files


def main(argv: list[str]) -> int:
    bad: list[str] = []
    for path in _files(argv):
        relative = path.resolve().relative_to(ROOT).as_posix() if path.resolve().is_relative_to(ROOT) else str(path)
        if relative in ALLOWED:
            continue
        bad.extend(f"{relative}:{line}: {call}" for line, call in offences(path))
    for line in bad:
        print(line)
    if bad:
        print(
            f"{len(bad)} commit(s)/rollback(s) outside the commit points (webapp/transactions.py, webapp/jobs.py): "
            "return from the view (it commits once), call transactions.discard(), or write through "
            "transactions.write()/transactions.command()",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
