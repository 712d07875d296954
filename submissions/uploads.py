"""Files uploaded for a bulk import, kept between the steps (mapping, preview, import) under the instance folder.

Each upload has a random id and a small JSON record of who uploaded it for which organisation; only that person can
continue it. The file is parsed once, when it is uploaded: the steps read the parsed rows (``<id>.table.json``),
never the file again, and the file itself is not kept. The rows are deleted once imported; the skipped rows (if
any) stay downloadable by the same person. Importing is claimed with a marker file created exclusively, so two
confirmations of the same upload (a double click, two tabs) import it once.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import current_app

from submissions.spreadsheets import Table

_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class AlreadyImporting(Exception):
    """Another request is importing this upload now, or has imported it."""


@dataclass
class Upload:
    id: str
    user_id: int
    organisation_id: int
    filename: str
    mapping: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    imported: int | None = None
    skipped: int = 0

    @property
    def suffix(self) -> str:
        return ".xlsx" if self.filename.lower().endswith(".xlsx") else ".csv"


def _folder() -> Path:
    folder = Path(current_app.config["COMMINTEL_INSTANCE_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(table: Table, filename: str, user_id: int, organisation_id: int, mapping: dict[str, str]) -> Upload:
    """Keep an upload's parsed rows for the next steps."""
    upload = Upload(secrets.token_urlsafe(18), user_id, organisation_id, Path(filename).name[:200], mapping)
    _write_atomic(_folder() / f"{upload.id}.table.json", table.to_json())
    write(upload)
    return upload


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write(upload: Upload) -> None:
    _write_atomic(_folder() / f"{upload.id}.json", json.dumps(asdict(upload)))


def load(upload_id: str, user_id: int) -> Upload | None:
    """The upload, if it exists and belongs to ``user_id``; else None (the view answers 404)."""
    if not _ID.match(upload_id or ""):
        return None
    path = _folder() / f"{upload_id}.json"
    if not path.exists():
        return None
    upload = Upload(**json.loads(path.read_text()))
    return upload if upload.user_id == user_id else None


def table(upload: Upload) -> Table | None:
    """The upload's parsed rows; None once it has been imported."""
    path = _folder() / f"{upload.id}.table.json"
    try:
        return Table.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@contextmanager
def importing(upload: Upload):
    """Claim the upload for importing (raise :class:`AlreadyImporting` when it is claimed already). The claim
    stays when the block succeeds (the upload is used up) and is released when it raises (try again)."""
    marker = _folder() / f"{upload.id}.importing"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        raise AlreadyImporting(upload.id) from None
    os.close(fd)
    try:
        yield
    except BaseException:
        marker.unlink(missing_ok=True)
        raise


def finish(upload: Upload, skipped_csv: str | None) -> None:
    """Forget the parsed rows; keep the skipped rows for download."""
    (_folder() / f"{upload.id}.table.json").unlink(missing_ok=True)
    if skipped_csv:
        (_folder() / f"{upload.id}.skipped.csv").write_text(skipped_csv, encoding="utf-8")
    write(upload)


def skipped(upload: Upload) -> str | None:
    path = _folder() / f"{upload.id}.skipped.csv"
    return path.read_text(encoding="utf-8") if path.exists() else None
