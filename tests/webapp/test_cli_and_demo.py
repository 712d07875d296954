"""The CLI's account commands and the demo loader."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import sign_in
from webapp import operations as webapp_ops
from webapp.demo import DEMO_PASSWORD, LOGINS
from webapp.extensions import db
from webapp.models import Area, AreaLevel, AuditEvent, Organisation, OrgRole, Partnership, PlatformRole, User


def test_orgs_and_users_create(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orgs", "create", "--name", "Filwood Fantastic", "--kind", "community_business"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Jo@Example.org",
            "--role",
            "org_admin",
            "--org",
            "filwood-fantastic",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = webapp_ops.get_user_by_email("jo@example.org")
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "filwood-fantastic"))
    assert user.org_role(org) is OrgRole.ADMIN
    assert user.check_password("a long enough password")


def test_users_create_bad_input(app, db_session):
    runner = app.test_cli_runner()
    no_org = runner.invoke(
        args=["users", "create", "--email", "a@example.org", "--role", "member", "--password-stdin"],
        input="a long enough password\n",
    )
    assert no_org.exit_code != 0
    assert "needs --org" in no_org.output
    short = runner.invoke(
        args=["users", "create", "--email", "a@example.org", "--role", "convenor", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0
    assert "at least 10 characters" in short.output
    bad_kind = runner.invoke(args=["orgs", "create", "--name", "X Y", "--kind", "club"])
    assert bad_kind.exit_code != 0
    assert "club" in bad_kind.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_loads_once_and_every_login_reaches_its_home(app, db_session):
    from webapp import demo

    demo.load()
    db.session.commit()
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Area, Organisation, User, Partnership)]
    demo.load()
    db.session.commit()
    assert counts == [
        db.session.scalar(select(func.count()).select_from(m)) for m in (Area, Organisation, User, Partnership)
    ]
    # The local authority, 34 wards, 268 LSOAs (2021), and the 4 LSOAs (2011) split in 2021, kept as superseded.
    assert counts[0] == 307
    assert db.session.scalar(select(func.count()).select_from(Area).where(Area.current.is_(False))) == 4
    partnership = db.session.scalar(select(Partnership))
    assert len(partnership.areas) == 35
    assert all(a.current for a in partnership.areas)
    assert len(webapp_ops.sharing_organisation_ids(partnership)) == len(partnership.members) == 6
    for login in LOGINS:
        client = app.test_client()
        # Through the real forms: the admin and convenor set up two-step sign-in at this first sign-in.
        sign_in(client, webapp_ops.get_user_by_email(login.email), DEMO_PASSWORD)
        assert db.session.get(User, webapp_ops.get_user_by_email(login.email).id).mfa_enabled is (
            login.role in ("admin", "convenor")
        )
        home = client.get("/home")
        assert home.status_code == 200
        assert login.name in home.get_data(as_text=True)
    convenor = db.session.scalar(select(User).where(User.platform_role == PlatformRole.CONVENOR))
    assert convenor in partnership.convenors


def test_agreement_versions_ask_again(world):
    partnership, org, admin = world["partnership"], world["org"], world["users"]["admin"]
    v1 = webapp_ops.publish_agreement(
        partnership, "We share observations for planning, redacted and suppressed.", admin
    )
    webapp_ops.accept_agreement(v1, org, admin)
    assert webapp_ops.sharing_organisation_ids(partnership) == {org.id}
    v2 = webapp_ops.publish_agreement(partnership, "Version two: we also share with funders in aggregate only.", admin)
    assert v2.version == 2
    assert webapp_ops.sharing_organisation_ids(partnership) == set()


def test_partnerships_are_made_and_filled_from_the_command_line(app, db_session):
    """A partnership, its area, a member, a funder and a convenor with no web page or Python needed (issue 14)."""
    from webapp import policy

    ward = Area(code="E05010897", name="Lawrence Hill", level=AreaLevel.WARD)
    db.session.add(ward)
    for name, kind in (("Barton Hill Food Share", "charity"), ("Quartet Trust", "funder")):
        webapp_ops.create_organisation(name, kind)
    convenor = webapp_ops.create_user("con@example.org", "a long enough password", platform_role=PlatformRole.CONVENOR)
    resident = webapp_ops.create_user("res@example.org", "a long enough password", platform_role=PlatformRole.RESIDENT)
    db.session.commit()
    runner = app.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["partnerships", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "covering 1 area(s)" in run("create", "--name", "East Bristol Network", "--area", "e05010897")
    assert "added as member" in run("add-member", "east-bristol-network", "barton-hill-food-share")
    assert "was already member" in run("add-member", "east-bristol-network", "barton-hill-food-share")
    assert "added as funder" in run("add-funder", "east-bristol-network", "quartet-trust")
    assert "added as convenor" in run("add-convenor", "east-bristol-network", "CON@example.org")
    listing = run("list")
    assert "Lawrence Hill (E05010897)" in listing
    assert "members: barton-hill-food-share" in listing
    assert "funders: quartet-trust" in listing
    assert "convenors: con@example.org" in listing

    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "east-bristol-network"))
    assert policy.can_convene(convenor, partnership)
    assert not policy.can_convene(resident, partnership)
    events = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events[-4:] == ["partnership.create", "partnership.add_member", "partnership.add_funder",
                           "partnership.add_convenor"]  # fmt: skip

    # Bad input: a message naming what is wrong, exit 1, nothing changed.
    for args, words in [
        (("add-funder", "east-bristol-network", "barton-hill-food-share"), "is not a funder organisation"),
        (("add-member", "east-bristol-network", "quartet-trust"), "funds East Bristol Network"),
        (("add-convenor", "east-bristol-network", "res@example.org"), "is not a convenor"),
        (("add-member", "east-bristol-network", "no-such-org"), "No organisation 'no-such-org'"),
        (("add-member", "nowhere", "barton-hill-food-share"), "No partnership 'nowhere'"),
        (("add-area", "east-bristol-network", "E99999999"), "No area with the ONS code"),
        (("create", "--name", "East Bristol Network"), "exists already"),
        (("create", "--name", "X"), "2 to 200 characters"),
    ]:
        result = runner.invoke(args=["partnerships", *args])
        assert result.exit_code == 1, (args, result.output)
        assert words in result.output, (args, result.output)
        assert "Traceback" not in result.output
    db.session.expire_all()
    assert [o.slug for o in partnership.members] == ["barton-hill-food-share"]
    assert [o.slug for o in partnership.funders] == ["quartet-trust"]
    assert db.session.scalar(select(func.count()).select_from(Partnership)) == 1
