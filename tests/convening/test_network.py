"""The organisation network (issue 19, part 2): the k rule on edges and an attack on it across periods, naming
consent, communities and brokers on a hand-made graph, isolated organisations, single-organisation themes,
permissions, invitations and the briefing section."""

from __future__ import annotations

import itertools
import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select

from convening import operations as convening_ops
from convening.composer.sections import network
from convening.models import SectionKind
from convening.network import Mark, analyse, candidate_edges, shown_edges
from convening.network_models import NetworkInvitation
from convening.network_queries import organisations_released, read_marks, who_else
from tests.conftest import sign_in
from tests.convening.conftest import edition, section_markdown
from webapp import disclosure
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.models import AuditEvent, Partnership

K = 5


def marks_in(org: int, theme: int, ward: int | None, n: int, start: int = 0) -> list[Mark]:
    """``n`` observations of ``org`` on ``theme`` in ``ward``; ids from ``org * 1000 + start``, keys spread out."""
    return [Mark(org * 1000 + start + i, (37 * (org * 1000 + start + i)) % 256, org, theme, ward) for i in range(n)]


# The k rule --------------------------------------------------------------------------------------------------------


def test_an_edge_resting_on_k_minus_1_observations_of_one_side_is_absent():
    # A has k in the shared cell; B has k-1 there, and plenty elsewhere that A does not report: no edge.
    marks = marks_in(1, 10, 100, K) + marks_in(2, 10, 100, K - 1) + marks_in(2, 11, 100, 20, start=500)
    assert [(e.first, e.second) for e in candidate_edges(marks)] == [(1, 2)]  # they do share a cell...
    assert shown_edges(marks, K) == []  # ...but B's side rests on k-1
    net = analyse([1, 2], marks, K)
    assert net.edges == []
    assert net.isolated == [1, 2]
    assert net.communities == []
    # The other way round is the same rule: A short, B plenty.
    assert shown_edges(marks_in(1, 10, 100, K - 1) + marks_in(2, 10, 100, 30), K) == []
    # One more observation of B in the shared cell: the edge appears, each side released, never raw.
    marks += marks_in(2, 10, 100, 1, start=900)
    [edge] = shown_edges(marks, K)
    assert edge.sides[1].tally.count == K
    assert edge.sides[2].tally.count == K
    for org in (1, 2):
        assert edge.released(org) == release(edge.sides[org].tally)
    assert edge.weight == sum(release(edge.sides[o].tally).value for o in (1, 2))


def test_only_shared_cells_count_towards_an_edge():
    # Same theme, different wards; same ward, different themes: nothing shared, no edge however many.
    marks = marks_in(1, 10, 100, 9) + marks_in(2, 10, 101, 9) + marks_in(2, 11, 100, 9)
    assert candidate_edges(marks) == []
    # Unplaced observations count for themes, never for edges.
    assert candidate_edges(marks_in(1, 10, None, 9) + marks_in(2, 10, None, 9)) == []


def _preimages(shown: int, k: int = K, top: int = 40) -> set[int]:
    """True counts the shipped table can publish as ``shown`` (under some cell key)."""
    table = disclosure.table()
    return {t for t in range(k, top) for key in range(256) if t + table.perturbation(t, key) == shown}


def test_a_weight_released_as_one_sum_could_be_pinned_so_each_side_is_released():
    """Why the sides are released apart: a reader knows both sides of a shown edge are at least k, so the sum is at
    least 2k; the table publishes some sums of 2k as 2k-D, and only 2k can show that. Released apart, a side of k
    shows k, which a true k..k+4 can show too."""
    d = disclosure.max_perturbation()
    low = [key for key in range(256) if release(Tally(2 * K, key)).value == 2 * K - d]
    assert low, "the shipped table publishes some true 10s as 6"
    candidates = {t for t in _preimages(2 * K - d, top=60) if t >= 2 * K}
    assert candidates == {2 * K}  # pinned: the attack works on a sum
    # A side's value never pins: every value the table shows has at least two true counts behind it.
    for side in range(K, 30):
        for key in range(0, 256, 7):
            assert len(_preimages(release(Tally(side, key)).value)) >= 2


def test_a_hidden_edge_weight_cannot_be_read_by_comparing_periods():
    """Twelve months: A has 6 and B 5 observations in their shared cell. Six months: B's oldest one drops out, so
    B's side is k-1 and the edge is not shown. The reader sees the 12-month sides and the edge's absence; every
    pair of true 6-month sides consistent with that must leave more than one possibility (nothing pins them)."""
    today = date(2026, 6, 30)
    dated = [(m, today - timedelta(days=30)) for m in marks_in(1, 10, 100, 6)]
    dated += [(m, today - timedelta(days=30)) for m in marks_in(2, 10, 100, 4)]
    dated += [(m, today - timedelta(days=300)) for m in marks_in(2, 10, 100, 1, start=50)]

    def window(days: int) -> list[Mark]:
        return [m for m, when in dated if when >= today - timedelta(days=days)]

    [wide] = shown_edges(window(365), K)
    assert shown_edges(window(182), K) == []  # the rule holds in the narrower period
    shown_a, shown_b = wide.released(1).value, wide.released(2).value
    possible = {
        (a6, b6)
        for a12 in _preimages(shown_a)
        for b12 in _preimages(shown_b)
        for a6 in range(0, a12 + 1)
        for b6 in range(0, b12 + 1)
        if (a6 < K or b6 < K) and a6 and b6  # hidden, yet still sharing the cell
    }
    assert (6, 4) in possible  # the truth is among them...
    assert len(possible) > 1  # ...with others: the 6-month weight is not pinned
    assert len({b for _, b in possible}) > 1
    assert len({a for a, _ in possible}) > 1


# Communities, brokers, isolated organisations, single-organisation themes -----------------------------------------


def test_communities_brokers_isolated_and_single_themes_on_a_hand_made_graph():
    """Two triangles joined by one bridge (3–4), an organisation reporting alone and one reporting nothing."""
    marks = []
    for org in (1, 2, 3):
        marks += marks_in(org, 10, 100, 6)
    for org in (4, 5, 6):
        marks += marks_in(org, 20, 200, 6)
    marks += marks_in(3, 30, 300, 5, start=100) + marks_in(4, 30, 300, 5, start=100)
    marks += marks_in(7, 40, 400, 8)  # alone: its theme is a single-organisation theme
    marks += marks_in(1, 50, None, 2, start=200)  # unplaced, still only one organisation's theme
    net = analyse([1, 2, 3, 4, 5, 6, 7, 8], marks, K)
    assert {(e.first, e.second) for e in net.edges} == {(1, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 6), (3, 4)}
    assert sorted(net.communities) == [[1, 2, 3], [4, 5, 6]]
    assert [o for o, _ in net.brokers[:2]] in ([3, 4], [4, 3])
    assert {o for o, _ in net.brokers} == {3, 4}  # only the bridge's ends stand between others
    assert net.isolated == [7, 8]
    assert {(s.theme_id, s.organisation_id, s.tally.count) for s in net.single_themes} == {(40, 7, 8), (50, 1, 2)}
    # Fixed seeds: the same picture every time.
    again = analyse([1, 2, 3, 4, 5, 6, 7, 8], marks, K)
    assert again.positions == net.positions
    assert again.communities == net.communities
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in net.positions.values())


def test_a_bridge_below_k_is_not_a_bridge():
    marks = []
    for org in (1, 2):
        marks += marks_in(org, 10, 100, 6)
    for org in (3, 4):
        marks += marks_in(org, 20, 200, 6)
    marks += marks_in(2, 30, 300, 5, start=100) + marks_in(3, 30, 300, K - 1, start=100)
    net = analyse([1, 2, 3, 4], marks, K)
    assert (2, 3) not in {(e.first, e.second) for e in net.edges}
    assert net.brokers == []  # the hidden edge leaves no trace in the structure


# The database side: a partnership with themes -------------------------------------------------------------------


@pytest.fixture
def themed(cworld, make_observation, make_org, make_user):
    """Three member organisations; theme "Food" reported in Ashley by the food share (6) and the mutual aid (5),
    the third organisation (4) too few; theme "Damp" by the mutual aid alone."""
    from nlp.themes.models import Theme, ThemeAssignment, ThemeModel

    partnership = cworld["partnership"]
    third = make_org("Knowle Kitchen")
    partnership.members.append(third)
    from webapp import operations as webapp_ops

    webapp_ops.accept_agreement(partnership.current_agreement, third, cworld["users"]["admin"])
    cworld["third"] = third
    cworld["other_admin"] = make_user("org_admin", cworld["other_org"])
    db.session.commit()
    recent = (date.today() - timedelta(days=20)).isoformat()
    made = {"food": [], "damp": []}
    for _ in range(6):
        made["food"].append(make_observation("org", area="E05010885", period=recent))
    for _ in range(5):
        made["food"].append(make_observation("other_org", area="E05010885", period=recent))
    for _ in range(4):
        made["food"].append(make_observation("third", area="E05010885", period=recent))
    for _ in range(3):
        made["damp"].append(make_observation("other_org", area="E05010897", period=recent,
                                             category="housing-and-homelessness"))  # fmt: skip
    model = ThemeModel(partnership_id=partnership.id, version=1, embedding_model="m", path="p", active=True)
    db.session.add(model)
    db.session.flush()
    food, damp = Theme(partnership_id=partnership.id, auto_label="Food"), Theme(partnership_id=partnership.id,
                                                                                 auto_label="Damp")  # fmt: skip
    db.session.add_all([food, damp])
    db.session.flush()
    db.session.execute(
        insert(ThemeAssignment),
        [{"observation_id": o.id, "model_id": model.id, "theme_id": theme.id, "is_outlier": False,
          "probability": 0.9} for theme, key in ((food, "food"), (damp, "damp")) for o in made[key]],
    )  # fmt: skip
    db.session.commit()
    cworld.update(food=food, damp=damp, made=made)
    return cworld


def test_the_partnership_network_from_the_database(themed):
    reading = read_marks(themed["partnership"], Audience.PARTNERSHIP, None)
    assert len(reading.marks) == 18
    net = analyse([o.id for o in themed["partnership"].members], reading.marks)
    org, other, third = themed["org"].id, themed["other_org"].id, themed["third"].id
    assert [(e.first, e.second) for e in net.edges] == [tuple(sorted((org, other)))]  # the third has only 4
    assert third in net.isolated
    assert [(s.theme_id, s.organisation_id) for s in net.single_themes] == [(themed["damp"].id, other)]
    # Funders count only what was shared with them: nothing here.
    assert read_marks(themed["partnership"], Audience.FUNDERS, None).marks == []


def test_who_else_names_only_organisations_that_agreed_and_counts_the_others(themed, client_for):
    partnership, org = themed["partnership"], themed["org"]
    rows, themed_flag = who_else(partnership, org, None)
    assert themed_flag
    [food] = [r for r in rows if r.label == "Food"]
    assert food.enough_own
    assert food.named == []
    assert food.others == organisations_released({themed["other_org"].id})  # one organisation: "fewer than 5"
    assert str(food.others) == "fewer than 5"
    page = client_for("member").get("/network/mine?months=all").get_data(as_text=True)
    assert "Hartcliffe Mutual Aid" not in page
    assert "Knowle Kitchen" not in page
    # The mutual aid agrees (through its admin's form); the kitchen, below k, is never listed either way.
    themed["third"].network_named = True
    db.session.commit()
    admin = sign_in(client_for("anonymous"), themed["other_admin"])
    assert "Naming your organisation" in admin.get("/network/mine").get_data(as_text=True)
    done = admin.post("/network/naming", data={"organisation": themed["other_org"].id,
                                               "named": "yes"})  # fmt: skip
    assert done.status_code == 302
    assert themed["other_org"].network_named
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "network.naming"))
    org_page = admin.get(f"/orgs/{themed['other_org'].slug}").get_data(as_text=True)
    assert "Other partners see this organisation&#39;s name" in org_page
    rows, _ = who_else(partnership, org, None)
    [food] = [r for r in rows if r.label == "Food"]
    assert [o.organisation.name for o in food.named] == ["Hartcliffe Mutual Aid"]
    assert food.others.value == 0
    page = client_for("member").get("/network/mine?months=all").get_data(as_text=True)
    assert "Hartcliffe Mutual Aid (5)" in page  # a true 5 is always shown as 5
    assert "Knowle Kitchen" not in page  # named, but 4 observations: below k


def test_who_else_does_not_break_a_small_ward_down_by_theme(themed, client_for, make_observation):
    """The mutual aid's "Damp" is its 3 observations in Eastville, a ward of 3 in all: its area page says "fewer
    than 5", so "who else" must not show "Damp: fewer than 5" there (theme by theme, a contributor's rows would pin
    the ward's total: the demo attack did it for a member). Once the ward holds k observations, themed or not, the
    row is shown "fewer than 5" again."""
    partnership, other = themed["partnership"], themed["other_org"]
    [damp] = [r for r in who_else(partnership, other, None)[0] if r.label == "Damp"]
    assert damp.own.withheld
    admin = sign_in(client_for("anonymous"), themed["other_admin"])
    page = admin.get("/network/mine?months=all").get_data(as_text=True)
    row = page[page.index('<th scope="row">Damp</th>') :].split("</tr>", 1)[0]
    assert '<td class="num">not shown</td>' in row
    assert "fewer than" not in row.split("Not compared")[0]
    recent = (date.today() - timedelta(days=20)).isoformat()
    for _ in range(2):  # unthemed, from another organisation: only the ward's total grows
        make_observation("org", area="E05010897", period=recent)
    db.session.commit()
    [damp] = [r for r in who_else(partnership, other, None)[0] if r.label == "Damp"]
    assert damp.own.hidden
    assert str(damp.own) == "fewer than 5"


def test_permissions_of_the_network_pages(themed, client_for, make_user, make_org):
    slug = themed["partnership"].slug
    assert client_for("convenor").get(f"/network/{slug}?months=all").status_code == 200
    for role in ("funder", "member", "org_admin", "resident"):
        assert client_for(role).get(f"/network/{slug}").status_code == 403, role
    assert client_for("funder").get("/network/mine").status_code == 403
    # A convenor of another partnership: 404, as if there were none.
    stranger = make_user("convenor")
    other = Partnership(name="Elsewhere", slug="elsewhere")
    other.convenors.append(stranger)
    db.session.add(other)
    db.session.commit()
    c = client_for("anonymous")
    sign_in(c, stranger)
    assert c.get(f"/network/{slug}").status_code == 404
    assert c.get("/network/").headers["Location"].endswith("/network/elsewhere")


def test_the_convenors_page_shows_edges_released_communities_and_single_themes(themed, client_for):
    page = client_for("convenor").get(f"/network/{themed['partnership'].slug}?months=all").get_data(as_text=True)
    assert "<svg" in page
    assert "Links between organisations" in page
    assert "Lawrence Hill Food Share" in page
    assert "Hartcliffe Mutual Aid" in page
    edge = shown_edges(read_marks(themed["partnership"], Audience.PARTNERSHIP, None).marks)[0]
    for org in (edge.first, edge.second):
        assert f'<td class="num">{edge.released(org)}</td>' in page
    assert "Themes reported by only one organisation" in page
    assert "Damp" in page
    assert "Knowle Kitchen" in page  # isolated, listed as such
    assert "the table below lists every link" in page


def test_invitations_are_recorded_audited_and_mailed_without_personal_data_in_logs(themed, client_for, caplog):
    convenor = client_for("convenor")
    slug = themed["partnership"].slug
    assert "Invite two organisations to connect" in convenor.get(f"/network/{slug}").get_data(as_text=True)
    org, other = themed["org"], themed["other_org"]
    # The same organisation twice, or one outside the partnership: refused, nothing stored.
    convenor.post(f"/network/{slug}/invite", data={"first": org.id, "second": org.id})
    outsider = themed["funder_org"]
    convenor.post(f"/network/{slug}/invite", data={"first": org.id, "second": outsider.id})
    assert db.session.scalar(select(func.count()).select_from(NetworkInvitation)) == 0
    caplog.clear()
    with caplog.at_level(logging.INFO):
        data = {"first": other.id, "second": org.id, "note": "Meet about food?"}
        done = convenor.post(f"/network/{slug}/invite", data=data)
    assert done.status_code == 302
    [invitation] = db.session.scalars(select(NetworkInvitation))
    assert (invitation.first_id, invitation.second_id) == tuple(sorted((org.id, other.id)))
    # Both organisations' admins are written to: the food share's org admin, and the mutual aid's.
    assert invitation.sent_to == 2
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "network.invite"))
    assert event.detail == {"partnership_id": themed["partnership"].id, "first_id": invitation.first_id,
                            "second_id": invitation.second_id}  # fmt: skip
    logged = caplog.text
    assert "@" not in logged
    assert "Meet about food" not in logged
    assert f"invitation {invitation.id}" in logged
    mine = client_for("member").get("/network/mine").get_data(as_text=True)
    assert "invited Lawrence Hill Food Share and Hartcliffe Mutual Aid to connect" in mine


def test_an_invitation_is_emailed_once_and_only_after_its_commit(themed, client_for, monkeypatch):
    """The request's first commit loses SQLite's write race and the request runs again (webapp.transactions): the
    admins get one email each, not one per attempt, and none is sent before the invitation is stored (sent before
    the commit, as they were, the first attempt's emails told of an invitation its rollback undid)."""
    from sqlalchemy.exc import OperationalError

    from webapp import mail, transactions

    sent: list[tuple[str, int]] = []

    def send_notice(to, subject, body, reference):
        sent.append((to, len(attempts)))
        return True

    monkeypatch.setattr(mail, "send_notice", send_notice)
    finish, attempts = transactions._finish_request, []

    def lose_the_first_race():
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        finish()

    convenor = client_for("convenor")  # signed in before the commits are counted
    monkeypatch.setattr(transactions, "_finish_request", lose_the_first_race)
    org, other = themed["org"], themed["other_org"]
    done = convenor.post(f"/network/{themed['partnership'].slug}/invite",
                                       data={"first": org.id, "second": other.id})  # fmt: skip
    assert done.status_code == 302
    assert len(attempts) == 2
    assert len(sent) == 2  # the two organisations' admins, once each...
    assert {attempt for _, attempt in sent} == {2}  # ...after the commit that stored the invitation
    [invitation] = db.session.scalars(select(NetworkInvitation))
    db.session.refresh(invitation)
    assert invitation.sent_to == 2


# The briefing section ---------------------------------------------------------------------------------------------


def test_the_briefing_section_per_edition_and_after_an_erasure(themed, make_session):
    session = make_session(held_on=date.today(), period_start=date.today() - timedelta(days=60),
                           period_end=date.today())  # fmt: skip
    briefing = convening_ops.compose_briefing(session, themed["users"]["convenor"])
    db.session.commit()
    assert SectionKind.NETWORK in {s.kind for s in briefing.sections}
    facts = network.read(edition(briefing))
    # Nobody agreed to be named: the edge is there, its organisations are not named.
    # The mutual aid's side is a true 5, always shown as 5; the food share's 6 is released through the table.
    (link,) = facts.links
    assert (link.first, link.second) == ("an organisation", "an organisation")
    sides = [link.first_observations, link.second_observations]
    assert 5 in {c.value for c in sides}
    assert all(c.perturbed for c in sides)
    assert any("Damp" in t.label for t in facts.lone_themes)  # a theme only one organisation reports
    themed["other_org"].network_named = True
    db.session.commit()
    (link,) = network.read(edition(briefing)).links  # names are read when the edition is read
    assert {link.first, link.second} == {"an organisation", "Hartcliffe Mutual Aid"}
    # The one rendering check of the section: a named side keeps its capitals, an unnamed one starts a row capitalised.
    assert "| Hartcliffe Mutual Aid | 5 |" in section_markdown(briefing, SectionKind.NETWORK)
    themed["other_org"].network_named = False
    db.session.commit()
    text = section_markdown(briefing, SectionKind.NETWORK)
    assert "| An organisation | " in text
    assert "| an organisation | 5 |" in text
    assert "Themes only one organisation reports" in text
    themed["org"].network_named = True
    db.session.commit()
    assert "Lawrence Hill Food Share" in section_markdown(briefing, SectionKind.NETWORK)
    # The funders' edition counts only what was shared with funders: no observation here, so no edge.
    funders = network.read(edition(briefing, "funders"))
    assert funders.themed
    assert funders.links == ()


def test_a_funders_edition_never_names_organisations_of_other_partnerships(themed, make_session, make_org):
    """A funder reads the funders' edition of the partnerships their organisation funds: its network is read from
    that partnership's observations and members only, so an organisation of another partnership (named in the
    network) never appears."""
    elsewhere = Partnership(name="Elsewhere", slug="elsewhere")
    stranger = make_org("Stranger Pantry")
    stranger.network_named = True
    elsewhere.members.append(stranger)
    db.session.add(elsewhere)
    for o in themed["made"]["food"]:
        o.sharing_level = "funders_aggregate"
    themed["org"].network_named = True
    db.session.commit()
    session = make_session(held_on=date.today(), period_start=date.today() - timedelta(days=60),
                           period_end=date.today())  # fmt: skip
    briefing = convening_ops.compose_briefing(session, themed["users"]["convenor"])
    db.session.commit()
    funders = section_markdown(briefing, SectionKind.NETWORK, "funders")
    assert "| Lawrence Hill Food Share |" in funders  # now shared with funders: the edge shows for them too
    assert "Stranger Pantry" not in funders
    ids = {o.id for o in themed["partnership"].members}
    assert set(briefing.facts["funders"]["network"]["organisations"]) <= ids
    # An erasure recounts the side cells: the mutual aid falls to k-1 and the edge goes.
    from convening.composer.facts import without_observation

    gone = themed["made"]["food"][6]  # one of the mutual aid's five
    facts, changed = without_observation(briefing.facts, gone.id, gone.record_key)
    assert changed
    briefing.facts = facts
    db.session.commit()
    assert "No two organisations share" in section_markdown(briefing, SectionKind.NETWORK)


def test_the_edge_cells_count_each_side_once_per_observation(themed, make_session):
    session = make_session(held_on=date.today(), period_start=date.today() - timedelta(days=60),
                           period_end=date.today())  # fmt: skip
    briefing = convening_ops.compose_briefing(session, themed["users"]["convenor"])
    cells = briefing.facts["partnership"]["cells"]
    a, b = sorted((themed["org"].id, themed["other_org"].id))
    assert cells[f"net.{a}.{b}.{themed['org'].id}"]["n"] == 6
    assert cells[f"net.{a}.{b}.{themed['other_org'].id}"]["n"] == 5
    sides = [cells[key] for key in cells if key.startswith("net.") and not key.startswith("net.theme.")]
    for cell in sides:
        assert len(cell["ids"]) == len(set(cell["ids"])) == cell["n"]
    assert set(itertools.chain.from_iterable(c["ids"] for c in sides)) <= {o.id for o in themed["made"]["food"]}


def test_the_convenor_is_told_how_many_invitation_emails_went_out(themed, client_for):
    """The emails go out after the commit; the flash that counts them must still reach the next page."""
    org, other = themed["org"], themed["other_org"]
    page = client_for("convenor").post(f"/network/{themed['partnership'].slug}/invite",
                                       data={"first": org.id, "second": other.id}, follow_redirects=True)  # fmt: skip
    assert "Invitation recorded and sent to 2 organisation admins" in page.get_data(as_text=True)
