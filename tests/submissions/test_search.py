"""Search and filters over the observations list (issue 14: ``?q=`` was ignored; no organisation column, no "mine"):
words match the redacted text everyone listing it may read, the raw text only where the reader may read it; the
search index leaves nothing of an erased observation behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from submissions import operations as submission_ops
from submissions import search
from submissions.models import Observation, ObservationStatus
from tests.conftest import app_config, sign_in
from tests.nlp.test_erasure_leaves_nothing import files_holding
from tests.submissions.conftest import valid_data
from webapp.extensions import db


def _listed(client, **args) -> str:
    response = client.get("/observations/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def shared(sharing_world, make_observation):
    """Two organisations of one partnership: theirs redacted and shared, ours with a name only we may read."""
    ours = make_observation(text="Jane Smith says the food parcels ran out on Friday at the hall.", redacted=False)
    ours.redacted_text = "[NAME] says the food parcels ran out on Friday at the hall."
    text = "Kwame Mensah told us the warm space at the library is full every evening."
    theirs = make_observation(organisation="other_org", author="admin", redacted=False, text=text)
    theirs.redacted_text = "[NAME] told us the warm space at the library is full every evening."
    db.session.commit()
    return {"ours": ours, "theirs": theirs}


def test_words_find_what_the_reader_may_read_and_nothing_else(shared, client_for, sharing_world, make_user, app):
    member = client_for("member")  # of the organisation that wrote "ours"
    page = _listed(member, q="library warm")
    assert f"/observations/{shared['theirs'].id}" in page
    assert f"/observations/{shared['ours'].id}" not in page
    assert f"/observations/{shared['theirs'].id}" in _listed(member, q="libraries")  # stemmed
    # Their redacted name is not searchable; our own name is, by us.
    assert f"/observations/{shared['theirs'].id}" not in _listed(member, q="Kwame")
    assert f"/observations/{shared['ours'].id}" in _listed(member, q="Jane")
    # The other organisation reads our redacted text only: the name we wrote finds nothing for them.
    other = sign_in(app.test_client(), make_user("member", sharing_world["other_org"]))
    assert f"/observations/{shared['ours'].id}" not in _listed(other, q="Jane")
    assert f"/observations/{shared['ours'].id}" in _listed(other, q="parcels Friday")
    # Search syntax is just words: quotes, operators and stars are not errors.
    for hostile in ('"', "parcels OR", "NEAR(a b)", "*", "a' OR 1=1 --", "x" * 500):
        assert member.get("/observations/", query_string={"q": hostile}).status_code == 200


def test_filters_by_organisation_and_mine_stay_in_the_links(shared, client_for, sharing_world):
    member = client_for("member")
    page = _listed(member, organisation=sharing_world["other_org"].slug)
    assert f"/observations/{shared['theirs'].id}" in page
    assert f"/observations/{shared['ours'].id}" not in page
    assert '<th scope="col">From</th>' in page
    mine = _listed(member, mine="1")
    assert f"/observations/{shared['ours'].id}" in mine
    assert f"/observations/{shared['theirs'].id}" not in mine
    assert 'value="1" checked' in mine


def test_the_search_index_keeps_no_word_of_an_erased_observation(tmp_path):
    """The FTS5 index holds its terms in pages of its own: merged after the erasure, none of them keeps the word."""
    from webapp import create_app
    from webapp import operations as webapp_ops
    from webapp.models import OrgKind, PlatformRole
    from webapp.secure_erase import reclaim_space

    word = "zorblinxqua"  # the porter stemmer leaves it as it is
    instance = tmp_path / "instance"
    app = create_app(app_config(f"sqlite:///{instance}/commintel.db", instance))
    with app.app_context():
        db.create_all()
        submission_ops.ensure_default_categories()
        org = webapp_ops.create_organisation("Lawrence Hill Food Share", OrgKind.CHARITY)
        admin = webapp_ops.create_user(
            "admin@example.org", "a long password here", "Admin", platform_role=PlatformRole.ADMIN
        )
        ids = []
        for i in range(30):
            data = valid_data(text=f"Row {i}: the pantry shelves were empty again this week.", area="")
            obs = submission_ops.submit_observation(data, organisation=org, author=admin)
            obs.redacted_text = obs.text + (f" {word} reported it." if i % 10 == 0 else "")
            ids.append(obs.id)
            db.session.commit()
        planted = list(db.session.scalars(select(Observation.id).where(search.matching(word, "sqlite"))))
        assert planted == [ids[0], ids[10], ids[20]]
        reclaim_space()
        assert files_holding(instance, word.encode()[2:]), "the byte check would not see the word in the index"
        for obs_id in planted:
            submission_ops.erase_observation(db.session.get(Observation, obs_id), admin)
            db.session.commit()
        reclaim_space()
        assert files_holding(instance, word.encode()[2:]) == []
        assert list(db.session.scalars(select(Observation.id).where(search.matching("pantry", "sqlite")))) == [
            i for i in ids if i not in planted
        ]
        assert db.session.scalar(select(Observation).where(Observation.status == ObservationStatus.SUBMITTED))
        db.session.remove()
        db.engine.dispose()
