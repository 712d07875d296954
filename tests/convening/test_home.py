"""Each role's home page and navigation lead to its next job, and only to pages the role can open (issue 14).

The convenor's home lists their partnerships' sessions (drafts, upcoming, published), actions due, agreements not
yet accepted and the moderation queue; a contributor's has "Add an observation", "Import a spreadsheet" and their
organisation's recent observations; a funder's leads to the library. Every link on a funder's home page and
workspace opens (no 403), and counts go through webapp.disclosure. Job pages refresh themselves and lead onward.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from convening import operations as convening_ops
from convening import publishing
from convening.models import BriefingVersion
from submissions import operations as submission_ops
from submissions.signals import observations_saved
from tests.convening.conftest import approve_all, observation_data
from webapp import operations as webapp_ops
from webapp.disclosure import Tally, release, threshold
from webapp.extensions import db
from webapp.models import Job, JobStatus


class _Links(HTMLParser):
    """The links of a page: (href, text), and those of its main navigation separately."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.nav: list[str] = []
        self._in_nav = False
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and attrs.get("aria-label") == "Main":
            self._in_nav = True
        if tag == "a" and attrs.get("href"):
            self._href, self._text = attrs["href"], []

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        if tag == "a" and self._href is not None:
            text = " ".join("".join(self._text).split())
            self.links.append((self._href, text))
            if self._in_nav:
                self.nav.append(text)
            self._href = None

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _home(client) -> tuple[str, _Links]:
    response = client.get("/home")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, links_of(html)


def _hrefs(links: _Links) -> set[str]:
    return {href.split("#")[0] for href, _ in links.links}


@pytest.fixture
def sessions(cworld, make_session, make_observation) -> dict:
    """A published session (with an action due next week), a session to come, and a draft to review."""
    convenor = cworld["users"]["convenor"]
    make_observation(period=(date.today() - timedelta(days=40)).isoformat())  # in both briefings' periods
    published = make_session(held_on=date.today() - timedelta(days=30), title="Autumn meeting")
    briefing = convening_ops.compose_briefing(published, convenor)
    approve_all(briefing, convenor)
    publishing.publish_briefing(briefing, convenor)
    convening_ops.add_action(published, "Write to the housing team about damp", convenor, owner=cworld["org"],
                    due_on=date.today() + timedelta(days=7))  # fmt: skip
    convening_ops.add_action(
        published, "An action due in two months", convenor, due_on=date.today() + timedelta(days=60)
    )
    upcoming = make_session(held_on=date.today() + timedelta(days=10), title="Winter meeting")
    draft = make_session(held_on=date.today() + timedelta(days=40), title="Spring meeting")
    convening_ops.compose_briefing(draft, convenor)
    db.session.commit()
    return {"published": published, "upcoming": upcoming, "draft": draft, **cworld}


def test_convenor_home_leads_to_the_sessions_of_their_partnership(sessions, client_for):
    html, links = _home(client_for("convenor"))
    slug = sessions["partnership"].slug
    hrefs = _hrefs(links)
    # The partnership's workspace (before, reachable only by typing its address) and each kind of session.
    assert f"/convening/partnerships/{slug}" in hrefs
    assert f"/convening/sessions/{sessions['upcoming'].id}" in hrefs
    assert f"/convening/sessions/{sessions['published'].id}" in hrefs
    assert f"/convening/sessions/{sessions['draft'].id}/briefing" in hrefs  # the draft opens in the composer
    assert f"/convening/partnerships/{slug}/sessions/new" in hrefs
    # Actions due within two weeks, not those due later.
    assert "Write to the housing team about damp" in html
    assert "An action due in two months" not in html
    assert "Every member organisation has accepted the current version." in html
    # The navigation has a Sessions item, which lists the same.
    assert "Sessions" in links.nav
    page = client_for("convenor").get("/convening/sessions")
    assert page.status_code == 200
    assert f"/convening/sessions/{sessions['upcoming'].id}" in _hrefs(links_of(page.get_data(as_text=True)))
    # Nothing on the page answers 403 or 404 for the convenor.
    _assert_every_link_opens(client_for("convenor"), links)


def test_convenor_home_names_members_that_have_not_accepted_a_new_agreement(cworld, client_for):
    webapp_ops.publish_agreement(cworld["partnership"], "Version two of the agreement.")
    db.session.commit()
    html, _ = _home(client_for("convenor"))
    assert "Not yet accepted by: Hartcliffe Mutual Aid, Lawrence Hill Food Share." in html
    # The organisation admin is asked to accept it, with a link to where they can.
    html, links = _home(client_for("org_admin"))
    assert "Data-sharing agreements to accept" in html
    assert f"/convening/partnerships/{cworld['partnership'].slug}" in _hrefs(links)


def test_moderation_waiting_on_the_convenor_home_is_released_through_the_disclosure_layer(cworld, client_for):
    html, _ = _home(client_for("convenor"))
    assert "No resident's observation waits for moderation." in html
    resident = cworld["users"]["resident"]
    with observations_saved.muted():
        waiting = [
            submission_ops.submit_observation(
                observation_data(), organisation=None, author=resident, partnership=cworld["partnership"]
            )  # fmt: skip
            for _ in range(2)
        ]
    db.session.commit()
    html, links = _home(client_for("convenor"))
    # Two waiting: shown as "fewer than k", never as the number itself.
    assert f"waiting for moderation: <strong>fewer than {threshold()}</strong>" in html
    assert str(release(Tally.of(waiting))) == f"fewer than {threshold()}"
    assert "/observations/moderation" in _hrefs(links)
    # Many waiting: the released (perturbed) count, as everywhere else.
    with observations_saved.muted():
        waiting += [
            submission_ops.submit_observation(
                observation_data(), organisation=None, author=resident, partnership=cworld["partnership"]
            )  # fmt: skip
            for _ in range(10)
        ]
    db.session.commit()
    html, _ = _home(client_for("convenor"))
    assert f"waiting for moderation: <strong>{release(Tally.of(waiting))}</strong>" in html


def test_contributor_home_leads_to_adding_importing_and_their_own_observations(cworld, make_observation, client_for):
    own = make_observation(text="Our own observation about the food bank queues this month.")
    others = make_observation(organisation="other_org", text="Another group's observation about damp in flats.")
    html, links = _home(client_for("member"))
    hrefs = _hrefs(links)
    assert ("/observations/new", "Add an observation") in links.links
    assert ("/observations/import", "Import a spreadsheet") in links.links
    assert f"/observations/{own.id}" in hrefs
    assert f"/observations/{others.id}" not in hrefs  # the home page lists their organisation's only
    # Plain words in the navigation: "Used in briefings", not the cryptic "Informed".
    assert "Used in briefings" in links.nav
    assert "Informed" not in links.nav
    assert "Briefings that used our observations" in html
    _assert_every_link_opens(client_for("member"), links)


def test_resident_home_offers_adding_an_observation_but_no_import(cworld, client_for):
    html, links = _home(client_for("resident"))
    assert ("/observations/new", "Add an observation") in links.links
    assert "Import a spreadsheet" not in html
    assert "Used in briefings" not in links.nav
    assert "Sessions" not in links.nav
    _assert_every_link_opens(client_for("resident"), links)


def test_funder_home_leads_to_the_library_and_nothing_they_cannot_open(sessions, client_for):
    funder = client_for("funder")
    html, links = _home(funder)
    version = db.session.scalars(db.select(BriefingVersion)).one()
    hrefs = _hrefs(links)
    assert "/convening/library" in hrefs
    assert f"/convening/versions/{version.id}" in hrefs
    # No "Informed" (a funder contributes no observations), no Sessions, no session pages.
    for item in ("Informed", "Used in briefings", "Sessions", "Observations", "Moderation", "Themes"):
        assert item not in links.nav
    assert not any(re.match(r"/convening/sessions/", h) for h in hrefs)
    assert funder.get("/convening/informed").status_code == 403
    _assert_every_link_opens(funder, links)
    # The partnership's workspace (linked from home) lists no session a funder cannot open.
    workspace = funder.get(f"/convening/partnerships/{sessions['partnership'].slug}")
    assert workspace.status_code == 200
    workspace_links = links_of(workspace.get_data(as_text=True))
    assert not any(h.startswith("/convening/sessions/") for h in _hrefs(workspace_links))
    _assert_every_link_opens(funder, workspace_links)


def _assert_every_link_opens(client, links: _Links) -> None:
    """Every link of the app on the page answers something the reader may open (no 403, no 404)."""
    for href in sorted(_hrefs(links)):
        if not href.startswith("/") or href.startswith("/static/"):
            continue
        status = client.get(href).status_code
        assert status not in (403, 404), f"{href} answers {status}"


# Job pages ----------------------------------------------------------------------------------------------------------


def _job(cworld, status: JobStatus, kind: str = "themes.refit") -> Job:
    job = Job(kind=kind, status=status, args=[cworld["partnership"].id], created_by_id=cworld["users"]["admin"].id)
    db.session.add(job)
    db.session.commit()
    return job


def test_a_running_job_page_refreshes_itself_and_a_finished_one_stops(cworld, client_for):
    admin = client_for("admin")
    slug = cworld["partnership"].slug
    running = admin.get(f"/jobs/{_job(cworld, JobStatus.RUNNING).id}").get_data(as_text=True)
    # It follows its job without reloading (a meta refresh fails WCAG 2.2.1, axe's meta-refresh rule): the status
    # block asks to be polled and the script that does it is on the page; without it, "Refresh now" works.
    assert 'http-equiv="refresh"' not in running
    assert re.search(r'<div id="job-status" aria-live="polite" data-job-poll="/jobs/[\w-]+" data-poll-seconds="\d+">',
                     running)  # fmt: skip
    assert '<script src="/static/js/jobs.js"></script>' in running
    assert "This page updates itself" in running
    assert f'href="/themes/{slug}">Back to the themes of Test Partnership</a>' in running

    done = admin.get(f"/jobs/{_job(cworld, JobStatus.DONE).id}").get_data(as_text=True)
    assert "data-job-poll" not in done
    assert "jobs.js" not in done
    # It ends with a link to the result.
    assert f'href="/themes/{slug}">See the themes of Test Partnership</a>' in done

    failed = admin.get(f"/jobs/{_job(cworld, JobStatus.FAILED).id}").get_data(as_text=True)
    assert "data-job-poll" not in failed
    assert f'href="/themes/{slug}"' in failed


def test_a_briefing_pdf_job_leads_to_its_session(sessions, client_for):
    version = db.session.scalars(db.select(BriefingVersion)).one()
    job = Job(kind="briefing_pdf", status=JobStatus.DONE, args=[version.id],
              created_by_id=sessions["users"]["convenor"].id)  # fmt: skip
    db.session.add(job)
    db.session.commit()
    page = client_for("convenor").get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f'href="/convening/sessions/{sessions["published"].id}">Open the session and its PDF: Autumn meeting' in page


def test_a_job_of_a_kind_without_a_result_page_leads_home(cworld, client_for):
    job = _job(cworld, JobStatus.DONE, kind="check")
    page = client_for("admin").get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'href="/home">Back to your home page</a>' in page


def test_a_convenor_of_many_partnerships_sees_those_with_the_nearest_sessions_and_a_way_to_all(
    cworld, client_for, monkeypatch
):
    # A national convenor of 200 partnerships waited 22 s for this page at a million observations: every
    # partnership's sessions and early warnings were worked out on each request. Now the page shows a bounded
    # number, the soonest sessions first, and leads to the Sessions page for the rest.
    from convening import library_views
    from indicators import warnings

    convenor = cworld["users"]["convenor"]
    extra = library_views.HOME_PARTNERSHIPS + 3
    today = date.today()
    made = []
    for i in range(extra):
        p = webapp_ops.create_partnership(f"Partnership {i:02d}", convenors=[convenor])
        made.append(p)
    # Partnership 07 meets tomorrow (first), 03 met yesterday (after every one with a session to come), 11 never.
    convening_ops.create_session(made[7], "Tomorrow", today + timedelta(days=1), convenor)
    convening_ops.create_session(made[3], "Yesterday", today - timedelta(days=1), convenor)
    for i in (0, 1, 2, 4, 5):
        convening_ops.create_session(made[i], "Later", today + timedelta(days=30 + i), convenor)
    db.session.commit()
    convened = len(made) + 1  # and the conftest world's partnership
    asked = []
    real = warnings.early_warnings
    monkeypatch.setattr(warnings, "early_warnings", lambda p, *a, **kw: asked.append(p.id) or real(p, *a, **kw))

    html, links = _home(client_for("convenor"))
    panel = html.split('id="home-sessions-h"', 1)[1].split('id="home-warnings-h"', 1)[0]  # the sessions panel
    shown = re.findall(r"Partnership \d\d", panel)
    assert len(asked) == library_views.HOME_PARTNERSHIPS  # the cost is bounded, whatever one convenes
    assert f"You convene {convened} partnerships: the {library_views.HOME_PARTNERSHIPS} with the nearest" in html
    assert "/convening/sessions" in _hrefs(links)
    assert "Partnership 07" in panel
    assert "Partnership 11" not in panel
    order = list(dict.fromkeys(shown))
    assert order.index("Partnership 07") < order.index("Partnership 00") < order.index("Partnership 03")
    # The Sessions page still lists every one.
    page = client_for("convenor").get("/convening/sessions").get_data(as_text=True)
    assert all(f"Partnership {i:02d}" in page for i in range(extra))
