"""Every benchmark in the README runs as written from a clean clone.

Each command of the README's Benchmarks table is launched in a subprocess exactly as written there (from the
repository root, ``.venv/bin/python benchmarks/<script>.py``, so the script's folder comes first on ``sys.path``),
with a tiny size; the scripts that load all of England's geography get four local authorities' rows of the same
files. ``benchmarks/indicators.py`` once hid the ``indicators`` package that way and ``benchmarks/intake.py`` failed
with ``ImportError: cannot import name 'charts' from 'indicators'``.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, worker_database

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
# The tiny size each script is launched with; every README benchmark must have one.
TINY = {
    "intake.py": ["--rows", "30", "--stored", "40", "--posts", "3"],
    "redaction.py": ["--texts", "40", "--processes", "1"],
    # One encoder and no torch comparison: the suite must stay quick; the encoders are compared in tests/nlp.
    "themes.py": ["--corpus", "bbc", "--limit", "120", "--encoder", "onnx-int8"],
    "theme_names_check.py": ["--corpus", "bbc", "--limit", "150"],
    "themes_sweep.py": [
        *("--corpus", "bbc", "--limit", "400", "--seeds", "1"),
        *("--subsets", "1", "--cand", "small:max_min_cluster_size=10"),
    ],
    "encoder_nmi.py": ["--corpus", "bbc", "--limit", "120", "--seeds", "2"],
    "encoder_fidelity.py": ["--limit", "20"],
    "nlp_throughput.py": ["--n", "120", "--processes", "1", "--seeds", "2"],
    "assign_latency.py": ["--observations", "1"],
    "area_profiles.py": ["--observations", "300", "--requests", "3"],
    "scale.py": ["--observations", "2000", "--partnerships", "3", "--requests", "4"],
    "composer.py": ["--observations", "300", "--runs", "1"],
    "briefing.py": ["--runs", "1"],
    "auth_timing.py": ["--rounds", "3"],
    "postcode_load.py": ["--rows", "2000", "--lookups", "10"],
    "disclosure_attack.py": ["--seeds", "1", "--observations", "150"],
    # A served demo (copied from the browser tests' cache when it is there), a few seconds of load, a small backlog
    # and the bombs; the SIGKILL cases are tests of their own (tests/webapp/test_worker_crash.py).
    "load_and_fault.py": [
        *("--submitters", "2", "--seconds", "3", "--import-rows", "40", "--backlog", "40", "--timeout", "600"),
        *("--only", "load", "backlog", "bombs"),
    ],
    # Two small partnerships, 2 real worker processes on the embedded queue (SQLite: no services needed); the
    # 1-worker run is the same path with one process less, and each start costs a worker's warm-up (~40 s).
    "refit_workers.py": ["--partnerships", "2", "--observations", "60", "--workers", "2", "--timeout", "600"],
    # The SQLite transport only: kombu's never redelivers, and the script waits a minute to show it.
    "embedded_queue.py": ["--messages", "20", "--transport", "2"],
}
NEEDS_SHARED_DATA = {
    "themes.py",
    "theme_names_check.py",
    "themes_sweep.py",
    "encoder_nmi.py",
    "nlp_throughput.py",
    "area_profiles.py",
    "scale.py",
}


# The scripts that load all of England's geography and deprivation files: at the tiny size they get the rows of four
# neighbouring local authorities (Bristol and the three around it) instead, in files of the same names and formats.
ENGLAND_FILES = {"area_profiles.py", "scale.py"}
TINY_LADS = {"E06000022", "E06000023", "E06000024", "E06000025"}


def _filtered_copy(src: Path, dst: Path, keep) -> list[dict]:
    """``src`` with only the data rows ``keep(row as a dict)`` accepts, byte for byte otherwise (BOM, line ends);
    returns the rows kept."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0].lstrip("\ufeff")]))
    rows = [(line, dict(zip(header, next(csv.reader([line])), strict=False))) for line in lines[1:]]
    kept = [(line, row) for line, row in rows if keep(row)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(lines[0] + "".join(line for line, _row in kept), encoding="utf-8")
    return [row for _line, row in kept]


@pytest.fixture(scope="session")
def four_authorities_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared data folder with the England-wide lookups and IoD files cut to :data:`TINY_LADS`; every other file
    is a link to the real one."""
    shared = Path(os.environ.get("COMMINTEL_SHARED_DATA") or SHARED_DATA)
    out = tmp_path_factory.mktemp("four-authorities")
    lsoa21 = _filtered_copy(
        shared / "geography/ons_lsoa21_ward24_lad24_lookup_EW.csv",
        out / "geography/ons_lsoa21_ward24_lad24_lookup_EW.csv",
        lambda r: r["ltla24_code"] in TINY_LADS,
    )
    lsoa11 = _filtered_copy(
        shared / "geography/ons_lsoa11_ward19_lad19_lookup_EW.csv",
        out / "geography/ons_lsoa11_ward19_lad19_lookup_EW.csv",
        lambda r: r["LAD19CD"] in TINY_LADS,
    )
    by_lsoa = {
        "indicators/iod2025_lsoa21_scores_ranks_deciles.csv": ("lsoa21_code", {r["lsoa21_code"] for r in lsoa21}),
        "indicators/iod2019_lsoa11_domains_ranks_deciles.csv": ("LSOA code (2011)", {r["LSOA11CD"] for r in lsoa11}),
    }
    assert len(lsoa21) > 500, len(lsoa21)
    assert len(lsoa11) > 500, len(lsoa11)
    for rel, (column, codes) in by_lsoa.items():
        assert len(_filtered_copy(shared / rel, out / rel, lambda r, c=column, k=codes: r[c] in k)) > 500, rel
    for path in shared.rglob("*"):
        target = out / path.relative_to(shared)
        if path.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return out


def readme_commands() -> dict[str, tuple[dict[str, str], list[str]]]:
    """``{script: (environment prefix, argv)}`` for every command in the README's Benchmarks table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    out = {}
    for command in re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE):
        words = command.split()
        env = dict(w.split("=", 1) for w in words if re.match(r"^[A-Z_]+=", w))
        argv = [w for w in words if not re.match(r"^[A-Z_]+=", w)]
        out[Path(argv[1]).name] = (env, argv)
    return out


def first_party_packages() -> set[str]:
    return {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}


def test_no_benchmark_script_shadows_a_package():
    # Run as `python benchmarks/x.py`, the folder is sys.path[0]: a script named like a package hides it.
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")}
    assert {"indicators", "nlp", "webapp"} <= first_party_packages()
    assert not scripts & first_party_packages(), scripts & first_party_packages()


def test_every_benchmark_script_is_in_the_readme_and_has_a_tiny_size():
    commands = readme_commands()
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert set(commands) == scripts, "list every benchmarks/*.py in the README's Benchmarks table"
    assert set(TINY) == scripts, "give every benchmark a tiny size in TINY"
    for _env, argv in commands.values():
        assert argv[0] == ".venv/bin/python", argv


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(TINY))
def test_benchmark_runs_as_the_readme_says(script, tmp_path, request):
    env_prefix, argv = readme_commands()[script]
    shared = Path(os.environ.get("COMMINTEL_SHARED_DATA") or SHARED_DATA)
    if script in NEEDS_SHARED_DATA and not shared.is_dir():
        pytest.skip(f"{script} needs the shared data folder {shared}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMINTEL_TEST_", "PYTEST"))}
    env["COMMINTEL_SHARED_DATA"] = str(shared)
    if script in ENGLAND_FILES:
        env["COMMINTEL_SHARED_DATA"] = str(request.getfixturevalue("four_authorities_data"))
    env["COMMINTEL_BENCH_CACHE"] = str(tmp_path / "bench-cache")
    if "BENCH_DATABASE_URL" in env_prefix:
        # The benchmark empties its database: only one made for it (.ci/run makes commintel_bench).
        url = os.environ.get("COMMINTEL_TEST_BENCH_POSTGRES_URL")
        if not url:
            pytest.skip("COMMINTEL_TEST_BENCH_POSTGRES_URL is not set (a PostgreSQL database the benchmark may empty)")
        env["BENCH_DATABASE_URL"] = worker_database(url)
    # The README's interpreter (.venv/bin/python of this checkout) when there is one, else the one running the tests.
    python = ROOT / argv[0] if (ROOT / argv[0]).exists() else Path(sys.executable)
    extra = [*TINY[script]] + (["--out", str(tmp_path / "briefing.pdf")] if script == "briefing.py" else [])
    result = subprocess.run(  # noqa: S603 - the README's own command, fixed arguments
        [str(python), *argv[1:], *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False
    )
    output = result.stdout + result.stderr
    assert "ImportError" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode in (0, 1), output[-3000:]  # 1: ran, and a target was missed at this tiny size
    assert result.stdout.strip(), output[-3000:]
