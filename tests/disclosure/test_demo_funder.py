"""The demo, read as its funder: no text they may not read on any page, PDF or API answer, and the briefing and the
area pages show the same value for the same observations.

The demo database is the suite's cached build (tests/browser/live_app.py: `commintel demo` on a fresh SQLite
database, kept under a fingerprint of the sources), copied for this module and read through the Flask test client.
The funder signs in through the real forms (second step included) and reads everything they can reach: the pages
linked from their home page and from every page reached from it, the funders' library, every briefing version and its
PDF, every area page in every period option, the theme pages (which answer them "not found") and the API with their
organisation's token. Every response is searched for the text — raw and redacted — of every observation the funders
may not read (``org_only`` or ``partnership``, or shared with funders without their quote consent, per
:func:`webapp.disclosure.may_quote`), as spans of six words that no text the funders may read contains.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from flask import current_app
from sqlalchemy import select

from tests.browser import live_app
from tests.conftest import IsolatedClient, app_config, sign_in
from tests.disclosure import attack, scrape
from webapp import create_app
from webapp import disclosure as layer
from webapp.disclosure import Audience, max_perturbation, threshold
from webapp.extensions import db

SPAN = 6  # words: long enough that a shared span is the observation's own text, not a common phrase
MAX_PAGES = 600
SKIP = ("/static/", "/auth/logout", "/auth/login", "/healthz")


@pytest.fixture
def demo(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A fresh copy of the cached demo database (built once if the cache has none), with an app over it."""
    cache = pytestconfig.cache.mkdir("commintel-browser-demo")
    folder = tmp_path_factory.mktemp("demo-funder")
    live_app.prepare(folder, live_app.free_port(), cache)
    app = create_app(app_config(f"sqlite:///{folder}/commintel.db", folder))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", html.unescape(text).lower())


def spans(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + SPAN]) for i in range(len(w) - SPAN + 1)}


def funder_and_orgs():
    from webapp.models import User

    funder = db.session.scalar(select(User).where(User.email == live_app.DEMO_LOGINS["funder"]))
    return funder, {m.organisation_id for m in funder.memberships}


def forbidden_spans() -> tuple[dict[tuple[str, ...], int], int]:
    """Six-word spans of the text (raw and redacted) of every observation the funder may not read, none of which
    occurs in a text the funder may read; {span: observation id}, and how many observations they come from."""
    from submissions.models import Observation
    from webapp.models import Partnership

    funder, orgs = funder_and_orgs()
    funded = {
        p.id for p in db.session.scalars(select(Partnership)) if layer.audience_for(funder, p) is Audience.FUNDERS
    }
    allowed: set[tuple[str, ...]] = set()
    forbidden: dict[tuple[str, ...], int] = {}
    secret = 0
    for o in db.session.scalars(select(Observation).order_by(Observation.id)):
        texts = [t for t in (o.text, o.redacted_text) if t]
        if o.organisation_id in orgs:
            readable = True  # their organisation's own observations
        else:
            readable = o.partnership_id in funded and layer.may_quote(o, Audience.FUNDERS)
        if readable:
            allowed |= {s for t in texts for s in spans(t)}
            continue
        secret += 1
        for t in texts:
            for s in spans(t):
                forbidden.setdefault(s, o.id)
    return {s: i for s, i in forbidden.items() if s not in allowed}, secret


class Recorder:
    """A test client that keeps the text of every response (PDFs as pdftotext reads them, JSON as its strings)."""

    def __init__(self, client, tmp_path: Path):
        self.client = client
        self.tmp_path = tmp_path
        self.texts: dict[str, str] = {}
        self.statuses: Counter = Counter()
        self.refused: list[str] = []

    def get(self, path: str, **kw):
        response = self.client.get(path, **kw)
        self.statuses[response.status_code] += 1
        if response.status_code >= 400:
            self.refused.append(f"{response.status_code} {path}")
        kind = response.mimetype or ""
        if kind == "application/pdf":
            text = scrape.pdf_text(response.data, self.tmp_path)
        elif kind.endswith("json"):
            text = " ".join(_strings(json.loads(response.get_data(as_text=True) or "null")))
        else:
            text = response.get_data(as_text=True)
        self.texts[path if path not in self.texts else f"{path} #{len(self.texts)}"] = text
        return response


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def crawl(recorder: Recorder, start: list[str], skip=lambda path: False) -> int:
    """Follow every same-site link from the pages read so far and from ``start`` (GET only), breadth first, except
    those ``skip`` says."""
    seen = {urldefrag(p)[0] for p in recorder.texts} | set()
    queue = [p for p in start if p not in seen]
    queue += [link for text in list(recorder.texts.values()) for link in _links(text)]
    fetched = 0
    while queue and fetched < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or path.startswith(SKIP) or skip(path):
            continue
        seen.add(path)
        response = recorder.get(path)
        fetched += 1
        if response.status_code == 200 and (response.mimetype or "") == "text/html":
            queue += [link for link in _links(response.get_data(as_text=True)) if link not in seen]
    assert not queue or fetched < MAX_PAGES, f"more than {MAX_PAGES} pages: raise MAX_PAGES"
    return fetched


def _links(page: str) -> list[str]:
    out = []
    for href in re.findall(r'href="([^"]+)"', page):
        href = urldefrag(html.unescape(href))[0]
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not href.startswith("/"):
            continue
        out.append(href)
    return out


def leaks(recorder: Recorder, forbidden: dict[tuple[str, ...], int]) -> list[str]:
    found = []
    for path, text in recorder.texts.items():
        for s in spans(re.sub(r"<[^>]+>", " ", text)):
            if s in forbidden:
                found.append(f"{path}: observation {forbidden[s]}: {' '.join(s)!r}")
    return found


def read_as_funder(tmp_path: Path) -> tuple[Recorder, scrape.Reader]:
    """Everything the demo's funder can reach, with every count tied to its observations."""
    from submissions import operations as submission_ops
    from webapp.models import Partnership

    funder, orgs = funder_and_orgs()
    client = sign_in(current_app.test_client(), funder, password="demo-password-2026")  # noqa: S106 - the demo's
    recorder = Recorder(client, tmp_path)
    # A connection of its own: every request commits (and so closes) the session's connection when it ends.
    with db.engine.connect() as connection:
        world = scrape.World.load(connection, "bristol")
        reader = scrape.Reader(world, recorder, "funders", threshold())
        scrape.read_everything(reader, "funder", "bristol", connection, tmp_path)
    # Every area where an observation of any sharing level is placed, and the areas above it, in every period option
    # (read_everything reads those where the partnership's are; the others' pages show only zeros and public data).
    from submissions.models import Observation

    placed = set(db.session.scalars(select(Observation.area_id).where(Observation.area_id.is_not(None))))
    areas = {world.lad(), *world.wards()}
    for area in placed & set(world.areas):
        areas |= {area, *world.ancestors(area)}
    codes = {world.code(a) for a in areas}
    start = ["/home", "/convening/library", "/areas/", "/themes/bristol"]
    for area in sorted(areas):
        for window in scrape.WINDOWS:
            start.append(f"/areas/{world.code(area)}?months={window}")
    # Theme pages (a funder is answered "not found"; what the answer says is searched all the same).
    for theme in world.themes:
        start += [f"/themes/bristol/{theme}", f"/areas/?indicator=theme-{theme}&level=ward"]
        start += [f"/areas/themes/{theme}?months={w}" for w in scrape.WINDOWS]
    for p in db.session.scalars(select(Partnership)):
        start += [f"/themes/{p.slug}", f"/partnerships/{p.slug}"]
    other_area = re.compile(r"/areas/([EWSN]\d{8})\b")
    crawl(recorder, start, skip=lambda path: (m := other_area.match(path)) is not None and m.group(1) not in codes)
    # The API, with a token of the funder's organisation (what their organisation's admin would create).
    from webapp.models import Organisation

    org = db.session.get(Organisation, min(orgs))
    _, raw = submission_ops.create_api_token(org, "disclosure test", funder, 30)
    db.session.commit()
    api = {"headers": {"Authorization": f"Bearer {raw}"}}
    for path in ("/api/v1/", "/api/v1/observations?per_page=200", "/api/v1/openapi.json"):
        response = recorder.get(path, **api)
        # A funder's organisation records no observations: the observations endpoint refuses its token (403).
        assert response.status_code in (200, 403), (path, response.status_code)
    return recorder, reader


def test_the_demo_funder_reads_no_text_they_may_not_and_one_value_per_cell(demo, tmp_path):
    forbidden, secret = forbidden_spans()
    assert secret > 100, f"the demo has only {secret} observations the funders may not read"
    assert len(forbidden) > 1000
    recorder, reader = read_as_funder(tmp_path)
    pdfs = [p for p in recorder.texts if p.endswith("/pdf")]
    assert pdfs, "no briefing PDF was read"
    assert len(recorder.texts) > 150, f"only {len(recorder.texts)} responses read"
    found = leaks(recorder, forbidden)
    assert not found, f"{len(found)} leaks, e.g. {found[:5]}"

    # Counts: one value per set of observations across briefing and area pages; pick the cells both show.
    _, cells, _ = reader.finish()
    attack.check_truthful(cells, threshold(), max_perturbation())
    shown = attack.check_consistency(cells)
    pages: dict[frozenset, set[str]] = {}
    for cell in cells:
        pages.setdefault(cell.truth, set()).add(cell.where.split(" ", 1)[0])
    both = [t for t, where in pages.items() if any(w.startswith("/convening/versions/") for w in where)
            and any(w.startswith("/areas/") for w in where)]  # fmt: skip
    assert both, "no cell is shown both in a briefing and on an area page"
    print(  # noqa: T201 - the numbers for the report (pytest -s)
        f"{len(recorder.texts)} responses ({len(pdfs)} PDFs; statuses {dict(recorder.statuses)}), {secret} "
        f"observations' text searched ({len(forbidden)} spans); {len(cells)} counts; {len(both)} cells shown by "
        f"a briefing and an area page: {[str(shown[t]) for t in both]}; refused: {sorted(set(recorder.refused))[:8]}"
    )


def test_the_search_catches_text_released_past_the_layer(demo, tmp_path, monkeypatch):
    """With the layer bypassed (every redacted observation quotable to every audience), a briefing published again
    quotes what funders may not read, and the same search over the funder's reading finds it."""
    from convening import operations as convening_ops
    from convening import publishing
    from convening.models import Briefing, Session
    from tests.convening.conftest import approve_all
    from webapp.models import User

    forbidden, _ = forbidden_spans()
    monkeypatch.setattr(layer, "may_quote", lambda obs, audience: obs.redacted_text is not None and obs.is_live)
    convenor = db.session.scalar(select(User).where(User.email == live_app.DEMO_LOGINS["convenor"]))
    session = db.session.scalars(select(Session).join(Briefing).order_by(Session.held_on.desc())).first()
    briefing = convening_ops.compose_briefing(session, convenor)
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    funder, _ = funder_and_orgs()
    recorder = Recorder(sign_in(current_app.test_client(), funder, password="demo-password-2026"), tmp_path)  # noqa: S106
    assert recorder.get(f"/convening/versions/{version.id}").status_code == 200
    assert leaks(recorder, forbidden), "the bypass released no forbidden text: the search would not notice a leak"
