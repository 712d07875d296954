"""Files uploaded for a bulk import, kept between the steps (mapping, preview, import) under the instance folder.

Each upload has a random id and a small JSON record of who uploaded it for which organisation; only that person can
continue it. The file is deleted once imported; the skipped rows (if any) stay downloadable by the same person.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import current_app

_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


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


def save(data: bytes, filename: str, user_id: int, organisation_id: int, mapping: dict[str, str]) -> Upload:
    upload = Upload(secrets.token_urlsafe(18), user_id, organisation_id, Path(filename).name[:200], mapping)
    (_folder() / f"{upload.id}.data").write_bytes(data)
    write(upload)
    return upload


def write(upload: Upload) -> None:
    (_folder() / f"{upload.id}.json").write_text(json.dumps(asdict(upload)))


def load(upload_id: str, user_id: int) -> Upload | None:
    """The upload, if it exists and belongs to ``user_id``; else None (the view answers 404)."""
    if not _ID.match(upload_id or ""):
        return None
    path = _folder() / f"{upload_id}.json"
    if not path.exists():
        return None
    upload = Upload(**json.loads(path.read_text()))
    return upload if upload.user_id == user_id else None


def data(upload: Upload) -> bytes | None:
    path = _folder() / f"{upload.id}.data"
    return path.read_bytes() if path.exists() else None


def finish(upload: Upload, skipped_csv: str | None) -> None:
    """Forget the uploaded file; keep the skipped rows for download."""
    (_folder() / f"{upload.id}.data").unlink(missing_ok=True)
    if skipped_csv:
        (_folder() / f"{upload.id}.skipped.csv").write_text(skipped_csv, encoding="utf-8")
    write(upload)


def skipped(upload: Upload) -> str | None:
    path = _folder() / f"{upload.id}.skipped.csv"
    return path.read_text(encoding="utf-8") if path.exists() else None
