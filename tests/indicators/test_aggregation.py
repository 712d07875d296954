"""Aggregation up the geography, against figures computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from indicators import aggregation


def test_counts_are_summed_and_missing_areas_named():
    values = pd.DataFrame({"value": [3.0, 4.0, float("nan")]})
    r = aggregation.rollup(values, "count", n_areas=4)
    assert r.value == 7.0
    assert r.n_used == 2
    assert "2 of 4 areas inside have no value" in r.caveat


def test_rates_are_population_weighted_when_population_is_known():
    # (10% of 100 + 30% of 300) / 400 = 25%
    values = pd.DataFrame({"value": [10.0, 30.0], "population": [100, 300]})
    r = aggregation.rollup(values, "rate")
    assert r.value == pytest.approx(25.0)
    assert r.caveat == ""
    assert "population-weighted" in r.method


def test_rates_without_population_are_averaged_with_a_caveat():
    values = pd.DataFrame({"value": [10.0, 30.0], "population": [100, None]})
    r = aggregation.rollup(values, "rate")
    assert r.value == pytest.approx(20.0)
    assert "Unweighted" in r.caveat
    assert "unweighted" in r.method


def test_ranks_become_shares_of_the_most_deprived():
    # deciles 1, 1, 2, 5 -> 2/4 in the most deprived 10%, 3/4 in the 20%
    values = pd.DataFrame({"value": [None] * 4, "rank": [10, 20, 5000, 15000], "decile": [1, 1, 2, 5]})
    r = aggregation.rollup(values, "rank")
    assert (r.share_10, r.share_20) == (0.5, 0.75)
    assert r.value == 0.5


def test_missing_deciles_come_from_the_rank():
    assert aggregation.decile_from_rank(1) == 1
    assert aggregation.decile_from_rank(3284) == 1  # 3284 / 32844 < 10%
    assert aggregation.decile_from_rank(3285) == 2
    assert aggregation.decile_from_rank(32844) == 10
    values = pd.DataFrame({"value": [None, None], "rank": [100, 30000], "decile": [None, None]})
    assert aggregation.rollup(values, "rank").share_10 == 0.5


def test_rollup_frame_groups_by_parent_and_counts_children_without_values():
    values = pd.DataFrame({"value": [1.0, 2.0, 5.0]}, index=["L1", "L2", "L3"])
    parents = pd.Series({"L1": "W1", "L2": "W1", "L3": "W2", "L4": "W2", "L5": "W3"})
    out = aggregation.rollup_frame(values, parents, "count")
    assert out.loc["W1", "value"] == 3.0
    assert out.loc["W1", "n_areas"] == 2
    assert out.loc["W2", "value"] == 5.0
    assert "1 of 2" in out.loc["W2", "caveat"]
    assert out.loc["W3", "value"] is None or math.isnan(out.loc["W3", "value"])


def test_series_matches_rollup_per_period():
    frame = pd.DataFrame(
        {
            "period_key": ["2019", "2019", "2020", "2020"],
            "period_start": ["2019-01-01", "2019-01-01", "2020-01-01", "2020-01-01"],
            "value": [1.0, 3.0, 2.0, float("nan")],
            "rank": [100, 30000, 200, 300],
            "decile": [None, 10, 1, None],
        }
    )
    counts = aggregation.series(frame, "count")
    assert counts["value"].tolist() == [4.0, 2.0]
    rates = aggregation.series(frame, "rate")
    assert rates["value"].tolist() == [2.0, 2.0]
    ranks = aggregation.series(frame, "rank")
    assert ranks["value"].tolist() == [0.5, 1.0]
    for key, expected in (("2019", 0.5), ("2020", 1.0)):
        assert aggregation.rollup(frame[frame["period_key"] == key], "rank").share_10 == expected


@pytest.mark.parametrize("kind", ["count", "rate", "rank"])
def test_rollup_frame_agrees_with_rollup(kind):
    values = pd.DataFrame(
        {"value": [1.0, 2.0, 5.0, float("nan")], "rank": [10, 20000, 3000, 6000], "decile": [1, None, 1, 2]},
        index=["L1", "L2", "L3", "L4"],
    )
    parents = pd.Series({"L1": "W1", "L2": "W1", "L3": "W2", "L4": "W2", "L5": "W2"})
    out = aggregation.rollup_frame(values, parents, kind)
    for parent in ("W1", "W2"):
        children = parents[parents == parent].index
        one = aggregation.rollup(values.loc[values.index.intersection(children)], kind, n_areas=len(children))
        assert out.loc[parent, "value"] == pytest.approx(one.value)
        assert out.loc[parent, "caveat"] == one.caveat
        assert out.loc[parent, "n_used"] == one.n_used


NOT_SHOWN = "not shown"


def test_a_total_never_gives_a_hidden_part_away():
    """Secondary suppression is replaced by the cell key method: a total of k or more is released with its own noise
    (so total minus the shown parts no longer pins a hidden one: the attack test measures it), and a total of fewer
    than k is not broken down at all."""
    from webapp.disclosure import State, Tally, release

    total, shown_part, hidden_part = Tally(8, 300), Tally(6, 200), Tally(2, 100)
    released_total, released_part = release(total), release(shown_part, [total])
    assert release(hidden_part, [total]).state is State.HIDDEN
    # Whatever the total shows, the hidden part is only known to be 1..4 (D = 4 on both released figures).
    assert released_total.perturbed
    assert released_part.perturbed
    candidates = {
        released_total.value + dt - (released_part.value + dp) for dt in range(-4, 5) for dp in range(-4, 5)
    } & set(range(1, 5))
    assert len(candidates) > 1
    # A total of fewer than k: its parts are not shown, zero parts included.
    small = Tally(3, 30)
    assert release(small).state is State.HIDDEN  # the total itself
    assert str(release(Tally(2, 20), [small])) == NOT_SHOWN
    assert str(release(Tally(0, 0), [small])) == NOT_SHOWN


def test_rollup_periods_rolls_up_each_period_in_time_order():
    # The area page's figure of a ward and the briefing's both come from here: per period, the same methods.
    early, late = pd.Timestamp("2020-01-01").date(), pd.Timestamp("2020-02-01").date()
    rows = [(late, "2020-02", 5.0), (early, "2020-01", 1.0), (late, "2020-02", None), (early, "2020-01", 2.0)]
    points = aggregation.rollup_periods(rows, "count", n_areas=2)
    assert [(key, start) for key, start, _ in points] == [("2020-01", early), ("2020-02", late)]
    assert [r.value for _, _, r in points] == [3.0, 5.0]
    assert "1 of 2 areas inside have no value" in points[1][2].caveat
    ranks = [(early, "2019", None, 40.0, None), (early, "2019", None, None, 3), (early, "2019", None, None, 9)]
    ((_, _, rank),) = aggregation.rollup_periods(ranks, "rank", total_ranked=1000)
    assert rank.share_10 == pytest.approx(1 / 3)  # rank 40 of 1,000 is decile 1
    assert rank.share_20 == pytest.approx(1 / 3)
