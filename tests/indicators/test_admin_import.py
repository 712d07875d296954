"""Importing an official indicator file from the web (issue 14: indicators could be imported from the command line
only): a preview that is the importer's own dry run (nothing stored), then the import as a background job."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import func, select

from indicators.models import IndicatorDataset, IndicatorValue
from tests.indicators.conftest import DATA
from webapp.extensions import db
from webapp.models import AuditEvent, Job, JobStatus


def _stored() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(IndicatorDataset)),
            db.session.scalar(select(func.count()).select_from(IndicatorValue)))  # fmt: skip


def _upload(client, name: str, **fields):
    data = {"file": (io.BytesIO((DATA / name).read_bytes()), name), "format": "auto", **fields}
    return client.post("/admin/indicators/", data=data, content_type="multipart/form-data")


def _uploads(app) -> list[Path]:
    root = Path(app.config["COMMINTEL_INSTANCE_DIR"]) / "indicator_uploads"
    return [p for p in root.glob("*") if p.is_dir()] if root.exists() else []


def test_an_admin_previews_then_stores_a_release(bristol, world, client_for, app):
    admin = client_for("admin")
    assert "Stored releases" in admin.get("/admin/indicators/").get_data(as_text=True)
    response = _upload(admin, "fingertips_export_sample.csv", release_date="2024-05-07",
                       publisher="Office for Health Improvement and Disparities (Fingertips)")  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    preview_url = response.headers["Location"]
    page = admin.get(preview_url).get_data(as_text=True)
    assert "read as fingertips" in page
    assert re.search(r"Values that would be imported: \d+", page)
    assert "Rows/cells skipped" in page
    assert "Dry run: nothing was stored." in page
    assert _stored() == (0, 0), "the preview stored something"

    token = preview_url.rsplit("/", 1)[1]
    done = admin.post(f"/admin/indicators/{token}/store")
    assert done.status_code == 302
    job_id = done.headers["Location"].rsplit("/", 1)[1]
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    assert job.status is JobStatus.DONE, job.message
    datasets, values = _stored()
    assert datasets == 1
    assert values == job.result["imported"] > 0
    assert "Imported" in job.message
    job_page = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'href="/admin/indicators/">See the stored releases' in job_page
    assert 'href="/admin/indicators/"' in admin.get("/home").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "indicators.import")) is not None
    assert _uploads(app) == [], "the imported file was kept"
    listing = admin.get("/admin/indicators/").get_data(as_text=True)
    assert db.session.scalar(select(IndicatorDataset)).title in listing
    # The upload is used up: its page and a second confirmation find nothing, and nothing is stored twice.
    assert admin.get(preview_url).status_code == 404
    assert admin.post(f"/admin/indicators/{token}/store").status_code == 404
    assert _stored() == (1, values)


def test_a_file_the_importer_refuses_is_named_and_nothing_is_kept(bristol, world, client_for, app):
    admin = client_for("admin")
    response = _upload(admin, "iod2025_header_is_data.csv")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was stored" in page
    assert "header" in page.lower()
    bad_date = _upload(admin, "fingertips_export_sample.csv", release_date="7/5/2024")
    assert bad_date.status_code == 422
    assert "Release date: write it as YYYY-MM-DD" in bad_date.get_data(as_text=True)
    not_a_table = admin.post("/admin/indicators/", data={"file": (io.BytesIO(b"MZ\x90\x00"), "tool.exe")},
                             content_type="multipart/form-data")  # fmt: skip
    assert not_a_table.status_code == 422
    assert "Choose a CSV or XLSX file." in not_a_table.get_data(as_text=True)
    assert _stored() == (0, 0)
    assert _uploads(app) == []


def test_discarding_and_hostile_tokens(bristol, world, client_for, app):
    admin = client_for("admin")
    response = _upload(admin, "fingertips_export_sample.csv", release_date="2024-05-07")
    token = response.headers["Location"].rsplit("/", 1)[1]
    assert len(_uploads(app)) == 1
    for hostile in ("..", "..%2F..%2Fetc", "A" * 21, "A" * 22):
        assert admin.get(f"/admin/indicators/{hostile}").status_code == 404
    assert client_for("convenor").get(f"/admin/indicators/{token}").status_code == 403
    assert admin.post(f"/admin/indicators/{token}/discard").status_code == 302
    assert _uploads(app) == []
    assert _stored() == (0, 0)
