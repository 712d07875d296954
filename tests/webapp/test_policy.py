"""Every route × every role: the app does what webapp.policy declares.

A route added without a rule in POLICY, or without a sample value for its URL arguments below, fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp import jobs, policy
from webapp.extensions import db
from webapp.policy import Role
from webapp.tasks import check_round_trip

ROLES = [r.value for r in Role]

# Routes whose outcome for a permitted role is not a plain 200, and why.
# Values: {role: status}, with "*" for every permitted role not named.
SPECIAL = {
    # The sample token is not a real link: everyone sees the friendly "this link does not work" page.
    "auth.reset_password": {"*": 400},
    "auth.accept_invitation": {"*": 400},
    # Signed-in people are sent on to their home page; anonymous people see the form.
    "auth.login": {"anonymous": 200, "*": 302},
    # Signing out redirects to the start page (anyone may: an already-ended session is simply cleared).
    "auth.logout": {"*": 302},
    # The second step belongs to someone half-way through signing in; everyone else is sent on (to sign in, or home).
    "auth.mfa_verify": {"*": 302},
    # Admins and convenors have set it up already (sent to their account page); others may set it up; anonymous
    # people are sent to sign in.
    "auth.mfa_setup": {"anonymous": 302, "admin": 302, "convenor": 302, "*": 200},
    # New recovery codes for those with two-step sign-in; the others are told to turn it on first.
    "auth.recovery_codes": {"admin": 200, "convenor": 200, "*": 302},
    # Turning it off: refused for roles that require it, done for the others; both go back to the account page.
    "auth.mfa_disable": {"*": 302},
    "auth.end_session": {"*": 302},
    "auth.end_all_sessions": {"*": 302},
    "auth.forget_devices": {"*": 302},
    "admin.reset_mfa": {"*": 302},
    "admin.end_sessions": {"*": 302},
    # The sample organisation is the member's and org admin's own; the funder belongs elsewhere (record rule: 404).
    "orgs.detail": {"funder": 404, "*": 200},
    # An empty POST is told to choose on or off, and sent back to the partnership page.
    "partnerships.public_form": {"*": 302},
    "partnerships.add": {"*": 302},
    # An upload that is not there (the sample token names none).
    "indicator_admin.preview": {"*": 404},
    "areas.choose_map": {"*": 404},  # the routed world has no boundaries: no map to draw
    "indicator_admin.store": {"*": 404},
    "indicator_admin.discard": {"*": 404},
    "grants.remove": {"*": 404},  # the sample file does not exist
    # The sample job was started by the admin: nobody else may see it (record rule: 404).
    "jobs.status": {"admin": 200, "*": 404},
    # submissions: the sample observation is the member's and org admin's organisation's; no agreement is accepted,
    # so nobody else sees it (admins see every observation). Samples of uploads and tokens do not exist (404).
    # The API wants a bearer token, not a session (401).
    "observations.detail": {"member": 200, "org_admin": 200, "admin": 200, "*": 404},
    "observations.edit": {"member": 200, "org_admin": 200, "*": 404},
    "observations.withdraw": {"member": 302, "org_admin": 302, "*": 404},
    "observations.confirm_area": {"member": 302, "org_admin": 302, "*": 404},
    "observations.moderate": {"*": 404},
    "observations.moderate_area": {"*": 404},
    "observations.moderate_text": {"*": 404},
    "observations.import_mapping": {"*": 404},
    "observations.import_preview": {"*": 404},
    "observations.import_skipped": {"*": 404},
    "observations.revoke_token": {"*": 404},
    "observations.rotate_token": {"*": 404},
    "observations_api.create": {"*": 401},
    "observations_api.list": {"*": 401},
    # convening: POSTs without form data are refused with a message naming the field, then redirected back.
    "convening.publish_agreement": {"*": 302},
    "convening.accept_agreement": {"*": 302},
    "convening.compose": {"*": 302},
    "convening.edit_section": {"*": 302},
    "convening.add_section": {"*": 302},
    "convening.publish": {"*": 302},
    "convening.approve_all": {"*": 302},
    "convening.save_notes": {"*": 302},
    "convening.add_decision": {"*": 302},
    "convening.add_action": {"*": 422},  # an empty form comes back with its errors next to the fields
    "convening.action_status": {"*": 302},
    # The sample version's PDF is not rendered: readers are sent to its reading page.
    "convening.version_pdf": {"*": 302},
    # nlp: theme forms post back to the theme page; "start a refresh" goes to the job page.
    "themes.rename": {"*": 302},
    "themes.merge": {"*": 302},
    "themes.hide": {"*": 302},
    "themes.move": {"*": 302},
    "themes.split": {"*": 302},
    "themes.sign_off": {"*": 302},
    "themes.refresh": {"*": 302},
    # The organisation network: the index sends a convenor to their partnership's network; empty POSTs are refused
    # with a message and sent back.
    "network.index": {"*": 302},
    "network.invite": {"*": 302},
    "network.naming": {"*": 302},
    # The sample index is published: publishing again is refused with a message, back on its page.
    "neighbourhood_index.publish": {"*": 302},
}


def _samples(world, job_id: str) -> dict[str, dict[str, str]]:
    """URL arguments per endpoint; keyed by argument name with per-endpoint overrides."""
    return {
        "slug": {
            "orgs": world["org"].slug,
            "partnerships": world["partnership"].slug,
            "public_observations": world["partnership"].slug,
            "convening": world["partnership"].slug,
            "themes": world["partnership"].slug,
            "network": world["partnership"].slug,
        },
        "theme_id": {"themes": world["theme_id"], "areas": world["theme_id"]},
        "obs_id": {"observations": world["observation_id"]},
        "upload_id": {"observations": "no-such-upload-0123456789"},
        "token_id": {"observations": 999999},
        "session_id": {"convening": world["convening"]["session_id"], "auth": 999999},
        "user_id": {"admin": world["bystander_id"]},
        "code": {"areas": world["area"].code},
        "token": {"auth": "not-a-real-token", "indicator_admin": "A" * 22},
        "job_id": {"jobs": job_id},
        "filename": {"static": "css/commintel.css"},
        "section_id": {"convening": world["convening"]["section_id"]},
        "version_id": {"convening": world["convening"]["version_id"]},
        "action_id": {"convening": world["convening"]["action_id"]},
        "fmt": {"observations": "xlsx"},
        "file_id": {"grants": 999999},
        "index_id": {"neighbourhood_index": world["index_id"]},
    }


@pytest.fixture
def routed_world(world, db_session, make_user):
    from webapp.models import Area, AreaLevel

    area = Area(code="E05010885", name="Ashley", level=AreaLevel.WARD)
    db_session.add(area)
    world["area"] = area
    from submissions import operations as submission_ops

    submission_ops.ensure_default_categories()
    world["partnership"].public_form_enabled = True
    observation = submission_ops.submit_observation(
        {"kind": "need", "category": "food", "text": "Queues at the food bank are longer every week."},
        organisation=world["org"],
        author=world["users"]["member"],
    )
    observation.redacted_text = observation.text
    world["observation_id"] = observation.id
    world["convening"] = _convening_sample(world)
    from nlp.themes.models import Theme

    theme = Theme(partnership_id=world["partnership"].id, auto_label="Food bank queues", top_terms=["food", "queues"])
    db_session.add(theme)
    db_session.flush()
    world["theme_id"] = theme.id
    world["index_id"] = _index_sample(world)
    job = jobs.enqueue("check", check_round_trip, created_by=world["users"]["admin"])
    db_session.commit()
    world["job_id"] = job.id
    # The person whose admin pages are walked (their MFA reset, their sessions ended): nobody the test signs in as.
    world["bystander_id"] = make_user("member", world["org"]).id
    return world


def _index_sample(world) -> int:
    """A published neighbourhood index of the partnership (with no indicators: the pages still answer)."""
    from indicators.index_models import IndexStatus, IndexVersion, NeighbourhoodIndex
    from webapp.models import AreaLevel, utcnow

    index = NeighbourhoodIndex(partnership=world["partnership"], title="Sample index")
    version = IndexVersion(number=1, status=IndexStatus.PUBLISHED, level=AreaLevel.WARD, method="zscore",
                           definition={"domains": []}, snapshot={}, seed=1, published_at=utcnow())  # fmt: skip
    index.versions.append(version)
    db.session.add(index)
    db.session.flush()
    return index.id


def _convening_sample(world) -> dict:
    """A session of the world's partnership with a published briefing (PDF not rendered) and an action."""
    from datetime import date

    from convening import operations as convening_ops
    from convening import publishing

    convenor = world["users"]["convenor"]
    session = convening_ops.create_session(world["partnership"], "Sample session", date(2025, 4, 1), convenor)
    briefing = convening_ops.start_briefing(session, convenor)
    section = convening_ops.add_custom_section(briefing, "Welcome", "Notes for the meeting.", convenor)
    version = publishing.publish_briefing(briefing, convenor)
    action = convening_ops.add_action(session, "Sample action to follow up", convenor)
    return {"session_id": session.id, "section_id": section.id, "version_id": version.id, "action_id": action.id}


def test_every_endpoint_has_a_rule_and_every_rule_an_endpoint(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - policy.POLICY.keys() == set(), "add these endpoints to webapp.policy.POLICY"
    assert policy.POLICY.keys() - endpoints == set(), "these POLICY rules name no endpoint"


def _expected(endpoint: str, role: str) -> int:
    decision_roles = policy.POLICY[endpoint].allow
    if Role(role) not in decision_roles:
        return 302 if role == "anonymous" else 403
    special = SPECIAL.get(endpoint, {})
    return special.get(role, special.get("*", 200))


def test_route_by_role(app, routed_world, client_for):
    samples = _samples(routed_world, routed_world["job_id"])
    clients = {role: client_for(role) for role in ROLES}
    checked = 0
    failures = []
    # "Sign out everywhere" ends every session of the person, so it goes last.
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint == "auth.end_all_sessions")
    for url_rule in rules:
        values = {}
        for arg in url_rule.arguments:
            blueprint = url_rule.endpoint.split(".")[0]
            sample = samples.get(arg, {}).get(blueprint)
            assert sample is not None, f"no sample value for <{arg}> of {url_rule.endpoint}: add one to _samples()"
            values[arg] = sample
        path = url_rule.build(values)[1]
        method = "GET" if "GET" in url_rule.methods else "POST"
        for role in ROLES:
            # Signing out ends the session: give it a client of its own so the others stay signed in.
            c = client_for(role) if url_rule.endpoint in ("auth.logout", "auth.end_session") else clients[role]
            response = c.open(path, method=method)
            response.close()  # static files are streamed from an open file
            expected = _expected(url_rule.endpoint, role)
            checked += 1
            if response.status_code != expected:
                failures.append(f"{method} {path} as {role}: {response.status_code}, declared {expected}")
            elif (
                expected == 302
                and Role(role) not in policy.POLICY[url_rule.endpoint].allow
                and "/auth/login" not in response.headers["Location"]
            ):
                failures.append(f"{method} {path} as {role}: redirected elsewhere than sign-in")
    assert not failures, "\n".join(failures)
    assert checked >= len(ROLES) * 15


def test_other_organisations_pages_are_not_found(world, client_for):
    member = client_for("member")
    assert member.get(f"/orgs/{world['other_org'].slug}").status_code == 404
    assert member.get(f"/orgs/{world['org'].slug}").status_code == 200


def test_org_admin_cannot_invite_to_another_organisation(world, client_for, make_user):
    make_user("org_admin", world["other_org"])
    org_admin = client_for("org_admin")
    assert org_admin.get(f"/orgs/{world['other_org'].slug}/invite").status_code == 404


def test_partnership_outsiders_get_404(world, client_for, make_org, make_user, app):
    outsider = make_user("member", make_org("Elsewhere Group"))
    c = app.test_client()
    from tests.conftest import sign_in

    sign_in(c, outsider)
    assert c.get(f"/partnerships/{world['partnership'].slug}").status_code == 404
    assert world["partnership"].name.encode() not in c.get("/partnerships/").data


def test_unknown_endpoint_is_refused(monkeypatch, world, client_for):
    monkeypatch.delitem(policy.POLICY, "areas.index")
    assert client_for("admin").get("/areas/").status_code == 403


def test_a_convenor_switches_the_public_form_on_and_off(world, client_for, app):
    from webapp.models import AuditEvent

    partnership = world["partnership"]
    slug = partnership.slug
    convenor = client_for("convenor")
    page = convenor.get(f"/partnerships/{slug}").get_data(as_text=True)
    assert "Switch the public form on" in page
    assert app.test_client().get(f"/public/{slug}/observe").status_code == 404
    on = convenor.post(f"/partnerships/{slug}/public-form", data={"enable": "on"}, follow_redirects=True)
    assert "The public form is on" in on.get_data(as_text=True)
    assert f"/public/{slug}/observe" in on.get_data(as_text=True)
    assert app.test_client().get(f"/public/{slug}/observe").status_code == 200
    convenor.post(f"/partnerships/{slug}/public-form", data={"enable": "off"})
    assert app.test_client().get(f"/public/{slug}/observe").status_code == 404
    stmt = select(AuditEvent.detail).where(AuditEvent.action == "partnership.public_form").order_by(AuditEvent.id)
    actions = list(db.session.scalars(stmt))
    assert [d["enabled"] for d in actions] == [True, False]
    # Members see the partnership but not the switch, and cannot use it.
    member = client_for("member")
    assert "Switch the public form" not in member.get(f"/partnerships/{slug}").get_data(as_text=True)
    assert member.post(f"/partnerships/{slug}/public-form", data={"enable": "on"}).status_code == 403


def test_convenors_see_only_the_organisations_and_people_of_their_own_partnerships(world, client_for, make_user):
    """Least privilege (issue 13): a convenor once listed every organisation and its members' names."""
    outsider = make_user("member", world["other_org"])
    convenor = client_for("convenor")
    listing = convenor.get("/orgs/").get_data(as_text=True)
    assert world["org"].name in listing
    assert world["funder_org"].name in listing, "funders of the partnership they convene"
    assert world["other_org"].name not in listing
    assert convenor.get(f"/orgs/{world['org'].slug}").status_code == 200
    hidden = convenor.get(f"/orgs/{world['other_org'].slug}")
    assert hidden.status_code == 404
    assert outsider.display_name not in hidden.get_data(as_text=True)
    # Convening another partnership opens its organisations, and only while they convene it.
    from webapp import operations as webapp_ops

    other = webapp_ops.create_partnership(
        "Other Partnership", "other", members=[world["other_org"]], convenors=[world["users"]["convenor"]]
    )
    db.session.commit()
    assert convenor.get(f"/orgs/{world['other_org'].slug}").status_code == 200
    other.convenors = []
    db.session.commit()
    assert convenor.get(f"/orgs/{world['other_org'].slug}").status_code == 404
    # Admins still see every organisation.
    assert world["other_org"].name in client_for("admin").get("/orgs/").get_data(as_text=True)


def test_observation_scope_follows_memberships_and_roles(world):
    """The record-level observation rules of webapp.policy: whose observations each reader sees in full, which
    partnerships' residents they moderate, and whether "My organisation only" means anything to them."""
    users, org, partnership = world["users"], world["org"], world["partnership"]
    scope = {role: policy.observation_scope(user) for role, user in users.items()}
    assert scope["member"].own_organisation_ids == {org.id}
    assert scope["org_admin"].own_organisation_ids == {org.id}
    assert scope["funder"].own_organisation_ids == frozenset(), "a funder organisation's people see no observation"
    assert scope["convenor"].moderated_partnership_ids == {partnership.id}
    assert partnership.id in scope["admin"].moderated_partnership_ids
    assert scope["admin"].everything
    assert scope["member"].moderated_partnership_ids == frozenset()
    assert not policy.observation_scope(None).anyone
    offered = {role for role, user in users.items() if policy.offers_own_organisation_level(user)}
    assert offered == {"member", "org_admin", "convenor", "admin"}
