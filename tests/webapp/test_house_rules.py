"""The house rules `make lint` enforces (docs/architecture.md), attacked: an upward import and a commit in a view
must each fail the check, and the layer diagram in the docs must be the contract the linter checks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from webapp.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
import check_commit_points  # noqa: E402 - a script in tools/, not a package

PACKAGES = ("webapp", "submissions", "nlp", "indicators", "convening")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contract_layers() -> list[str]:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert "ignore_imports" not in contract, "the layers contract has no exceptions list"
    return contract["layers"]


def test_a_commit_in_a_view_is_found():
    view = """
@bp.post("/x")
def x():
    db.session.add(thing)
    db.session.commit()
    if bad:
        db.session.rollback()
    conn.commit()  # a raw DB-API connection (the SQLite queue's own) is not the session
"""
    assert check_commit_points.offences(Path("submissions/views.py"), view) == [
        (5, "session.commit()"),
        (7, "session.rollback()"),
    ]


def test_the_check_fails_on_an_offending_file_and_passes_on_the_tree(tmp_path, capsys):
    bad = tmp_path / "views.py"
    bad.write_text("def view():\n    db.session.commit()\n", encoding="utf-8")
    assert check_commit_points.main([str(bad)]) == 1
    assert "views.py:2: session.commit()" in capsys.readouterr().out
    assert check_commit_points.main([]) == 0, capsys.readouterr().out


def _copy_tree(target: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, target / package, ignore=shutil.ignore_patterns("*.pyc", "__pycache__",
                        "demo_data", "data", "static", "schema", "disclosure_data"))  # fmt: skip
    shutil.copy(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed in this environment")
def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    _copy_tree(tmp_path)
    clean = _lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # The core reaching up into a domain package: the cycle the layers forbid.
    target = tmp_path / "webapp" / "mail.py"
    target.write_text("import convening.models  # noqa\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "webapp is not allowed to import convening" in broken.stdout


def test_the_documented_diagram_is_the_checked_contract():
    layers = _contract_layers()
    assert sorted(layers) == sorted(PACKAGES), "every domain package is a layer"
    doc = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = re.search(r"```text\n(?P<body>.*?)```", doc, re.S)
    assert diagram, "docs/architecture.md draws the layers in a ```text block"
    drawn = re.findall(r"\b(" + "|".join(PACKAGES) + r")/", diagram["body"])
    assert drawn == layers, f"the diagram lists {drawn}, the contract checks {layers} (top first)"
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in readme
    assert "../shared/CONVENTIONS.md" not in readme, "the conventions live in the repository"
