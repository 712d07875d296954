"""The disclosure layer's own rules: releasing a tally, the perturbation table and its setting, audiences, quotes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from webapp import ptable as ptables
from webapp.config import ConfigError, load_config
from webapp.disclosure import (
    Audience,
    SharingLevel,
    State,
    Tally,
    attribution,
    audience_for,
    max_perturbation,
    may_quote,
    release,
)
from webapp.models import OrgKind


def test_zero_stays_zero_small_counts_are_fewer_than_k_and_larger_ones_move_at_most_d():
    assert release(Tally(0, 0)).state is State.ZERO
    assert str(release(Tally(0, 0))) == "0"
    for n in range(1, 5):
        r = release(Tally(n, 17 * n))
        assert r.state is State.HIDDEN
        assert str(r) == "fewer than 5"
        assert r.value is None
    d = max_perturbation()
    seen = set()
    for n in range(5, 40):
        for key_sum in range(0, 256 * 3, 7):
            r = release(Tally(n, key_sum))
            assert r.perturbed
            assert r.value >= 5
            assert abs(r.value - n) <= d
            seen.add(r.value - n)
    assert len(seen) > 3, "the shipped table perturbs"


def test_the_same_observations_always_release_the_same_value():
    a = Tally(12, 1000)
    assert release(a) == release(Tally(12, 1000)) == release(Tally(6, 400) + Tally(6, 600))


def test_a_small_total_is_not_broken_down():
    part = release(Tally(2, 10), within=[Tally(3, 20)])
    assert part.state is State.WITHHELD
    assert str(part) == "not shown"
    assert release(Tally(0, 0), within=[Tally(3, 20)]).state is State.WITHHELD  # zero would say which part is empty
    assert release(Tally(2, 10), within=[Tally(30, 20)]).state is State.HIDDEN


def test_the_shipped_table_is_rebuilt_byte_for_byte(tmp_path):
    out = tmp_path / "ptable.csv"
    assert ptables.main(["--out", str(out)]) == 0
    assert out.read_bytes() == ptables.SHIPPED.read_bytes()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("count,cell_key\n5,0\n", "first row"),
        ("count,cell_key,perturbation\n5,0,zero\n", "not three whole numbers"),
        ("count,cell_key,perturbation\n" + "".join(f"5,{c},-1\n" for c in range(256)), "below the threshold"),
        ("count,cell_key,perturbation\n5,0,0\n", "expected all 256"),
    ],
)
def test_a_malformed_table_stops_start_up_naming_the_setting(tmp_path, content, why):
    path = tmp_path / "ptable.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=rf"COMMINTEL_PTABLE.*{why}"):
        load_config({"COMMINTEL_PTABLE": str(path), "COMMINTEL_ENV": "testing"}, environ={})
    with pytest.raises(ConfigError, match="COMMINTEL_PTABLE.*no file"):
        load_config({"COMMINTEL_PTABLE": str(tmp_path / "missing.csv"), "COMMINTEL_ENV": "testing"}, environ={})


def test_a_table_not_made_for_k_stops_start_up():
    with pytest.raises(ConfigError, match="COMMINTEL_PTABLE.*threshold"):
        load_config({"COMMINTEL_SUPPRESSION_K": "3", "COMMINTEL_ENV": "testing"}, environ={})


def test_audiences(world, make_user, make_org):
    p = world["partnership"]
    users = world["users"]
    assert audience_for(None, p) is None
    assert audience_for(users["member"], p) is Audience.PARTNERSHIP
    assert audience_for(users["convenor"], p) is Audience.PARTNERSHIP
    assert audience_for(users["admin"], p) is Audience.PARTNERSHIP
    assert audience_for(users["funder"], p) is Audience.FUNDERS
    assert audience_for(users["resident"], p) is Audience.PUBLIC
    other_funder = make_user("funder", make_org("Elsewhere Fund", OrgKind.FUNDER))
    assert audience_for(other_funder, p) is Audience.PUBLIC  # funds another partnership (or none): the public here
    assert audience_for(make_user("member", world["other_org"]), p) is Audience.PUBLIC  # not a member


def _obs(level, consent=True, funders=False, redacted="text", live=True):
    return SimpleNamespace(sharing_level=level, consent_to_quote=consent, consent_to_quote_funders=funders,
                           redacted_text=redacted, is_live=live)  # fmt: skip


def test_funders_read_a_quote_only_with_a_funder_level_and_their_own_consent():
    assert not may_quote(_obs("partnership", funders=True), Audience.FUNDERS)
    assert not may_quote(_obs("funders_aggregate"), Audience.FUNDERS)
    assert may_quote(_obs("funders_aggregate", funders=True), Audience.FUNDERS)
    assert may_quote(_obs("funders_aggregate"), Audience.PARTNERSHIP)
    assert not may_quote(_obs("org_only"), Audience.PARTNERSHIP)
    assert not may_quote(_obs("partnership", consent=False), Audience.PARTNERSHIP)
    assert not may_quote(_obs("partnership", redacted=None), Audience.PARTNERSHIP)
    assert not may_quote(_obs("public_aggregate", funders=True), Audience.PUBLIC)
    assert SharingLevel.at_least(SharingLevel.FUNDERS_AGGREGATE) == list(Audience.FUNDERS.counted_levels)


def test_attribution_never_narrows_below_k_organisations():
    charity, mutual = SimpleNamespace(kind=OrgKind.CHARITY), SimpleNamespace(kind=OrgKind.MUTUAL_AID)
    partnership = SimpleNamespace(members=[charity] * 5 + [mutual] * 4)
    said = lambda org: attribution(SimpleNamespace(organisation_id=1, organisation=org), partnership)  # noqa: E731
    assert said(charity) == "a charity"
    assert said(mutual) == "a partner organisation"  # four mutual-aid groups: fewer than k
    assert attribution(SimpleNamespace(organisation_id=None, organisation=None), partnership) == "a resident"
