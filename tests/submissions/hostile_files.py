"""Hostile spreadsheets for the upload tests and benchmarks/load_and_fault.py, made the way an attacker would: small
files that unpack or expand to far more than they look. Each is built as a stream (constant memory here too)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"'
    b' Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
    b' Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"'
    b' Target="sharedStrings.xml"/></Relationships>'
)
SHEET_OPEN = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
HEADER_ROW = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Notes</t></is></c><c r="B1" t="inlineStr"><is><t>Kind</t></is></c>'
    b'<c r="C1" t="inlineStr"><is><t>Category</t></is></c></row>'
)


def _row(n: int, text: bytes = b"Families asked the food bank for help again this week.") -> bytes:
    r = str(n).encode()
    return (
        b'<row r="' + r + b'"><c r="A' + r + b'" t="inlineStr"><is><t>' + text + b"</t></is></c>"
        b'<c r="B' + r + b'" t="inlineStr"><is><t>need</t></is></c>'
        b'<c r="C' + r + b'" t="inlineStr"><is><t>food</t></is></c></row>'
    )


def xlsx(sheet: Iterable[bytes], shared_strings: Iterable[bytes] | None = None) -> bytes:
    """An XLSX made of these XML chunks (streamed into the archive, compressed as hard as zip can)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, chunks in (("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", shared_strings)):
            if chunks is None:
                chunks = [b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0"/>']
            with archive.open(name, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return buffer.getvalue()


def ordinary(rows: int = 3) -> bytes:
    def sheet():
        yield SHEET_OPEN + b"<sheetData>" + HEADER_ROW
        for n in range(2, rows + 2):
            yield _row(n)
        yield b"</sheetData></worksheet>"

    return xlsx(sheet())


def dimension_bomb() -> bytes:
    """A sheet that declares the largest size Excel allows and has a value in its last row: openpyxl made every
    one of the 1,048,576 rows 16,384 cells wide (5 GB in 16 s, then MemoryError)."""
    last = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return xlsx([SHEET_OPEN, b'<dimension ref="A1:XFD1048576"/><sheetData>', HEADER_ROW, _row(2), last,
                 b"</sheetData></worksheet>"])  # fmt: skip


def declared_only() -> bytes:
    """The declaration alone, over an ordinary sheet: harmless once it is ignored."""
    return xlsx([SHEET_OPEN, b'<dimension ref="A1:XFD1048576"/><sheetData>', HEADER_ROW, _row(2),
                 b"</sheetData></worksheet>"])  # fmt: skip


def huge_cell(megabytes: int = 300) -> bytes:
    """One shared string of ``megabytes`` MB in a file of a few hundred KB."""

    def strings():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        yield b"<si><t>"
        block = b"a" * (1024 * 1024)
        for _ in range(megabytes):
            yield block
        yield b"</t></si></sst>"

    sheet = [SHEET_OPEN, b"<sheetData>", HEADER_ROW, b'<row r="2"><c r="A2" t="s"><v>0</v></c>',
             b'<c r="B2" t="inlineStr"><is><t>need</t></is></c><c r="C2" t="inlineStr"><is><t>food</t></is></c>',
             b"</row></sheetData></worksheet>"]  # fmt: skip
    return xlsx(sheet, strings())


def million_rows(rows: int = 1_000_000) -> bytes:
    """One short number per row, a million rows: a few MB that parse for a long time."""

    def sheet():
        yield SHEET_OPEN + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Notes</t></is></c></row>'
        for start in range(2, rows + 2, 10_000):
            yield b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n % 97)
                           for n in range(start, min(start + 10_000, rows + 2)))  # fmt: skip
        yield b"</sheetData></worksheet>"

    return xlsx(sheet())


def bad_xml() -> bytes:
    """Not well-formed: the second row is cut off in the middle of a cell."""
    return xlsx([SHEET_OPEN, b"<sheetData>", HEADER_ROW, b'<row r="2"><c r="A2" t="inlineStr"><is><t>Cut off'])


HOSTILE = {
    "dimension-bomb.xlsx": dimension_bomb,
    "huge-cell.xlsx": huge_cell,
    "million-rows.xlsx": million_rows,
    "bad-xml.xlsx": bad_xml,
    "not-a-zip.xlsx": lambda: b"PK\x03\x04 this is not a zip archive at all",
}

MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
from submissions import spreadsheets
path = Path(sys.argv[1])
data = path.read_bytes()
with open("/proc/self/status") as fh:
    size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
limit = size + int(sys.argv[2]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # a runaway parse fails with MemoryError, not the machine
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu = time.perf_counter(), time.process_time()
outcome, message, rows, widths = "read", "", 0, []
try:
    table = spreadsheets.read_table(data, path.name)
    rows, widths = len(table.rows), sorted({len(table.headers), *(len(cells) for _, cells in table.rows)})
except spreadsheets.ImportFileError as exc:
    outcome, message = "refused", exc.message
except MemoryError:
    outcome = "out of memory"
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"outcome": outcome, "message": message, "rows": rows, "widths": widths, "seconds": seconds,
                  "cpu_seconds": cpu, "extra_mb": grown}))
"""


def measure_read(path: Path, address_space_mb: int = 1024, timeout: float = 60.0) -> dict:
    """Read the file with ``spreadsheets.read_table`` in a fresh process whose address space may grow by at most
    ``address_space_mb``; returns the outcome, the time taken and how much its peak memory grew (MB)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter and a fixed script
            [sys.executable, "-c", MEASURE, str(path), str(address_space_mb)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"outcome": f"still parsing after {timeout:.0f} s", "seconds": timeout, "cpu_seconds": float("nan"),
                "extra_mb": float("nan")}  # fmt: skip
    if done.returncode != 0:
        return {"outcome": f"crashed: {done.stderr.strip().splitlines()[-1:]}", "seconds": float("nan"),
                "cpu_seconds": float("nan"), "extra_mb": float("nan")}  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])
