"""The credit scorecard on hand-made histories: each signal moves the score by the points its band is documented
to be worth, unknown signals move nothing and say so, and each recommendation comes from the rule that says it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from blocks.credit_policy import DEFAULT_BANDS, SIGNALS, Band, CreditPolicy
from tasks.credit.scorecard import Signals, review

POLICY = CreditPolicy()
# A customer every signal is neutral for: 100 points, keep.
STEADY = {"days_beyond_terms": D(8), "dbt_trend": D(0), "late_share": D(10), "utilisation": D(40),
          "peak_utilisation": D(50), "disputes": D(0), "broken_promises": D(0), "failed_charges": D(0),
          "account_months": D(24), "add": D(10), "sales_volume": D(50_000)}


def customer(limit: int | None = 1_000_000, why: dict | None = None, **changed) -> Signals:
    return Signals("C1", "USD", limit, {**STEADY, **changed}, why or {})


def test_a_steady_customer_scores_the_base_and_keeps_the_limit():
    steady = review(customer(), POLICY)
    assert (steady.score, steady.recommendation, steady.proposed_limit_cents) == (100, "keep", 1_000_000)
    assert steady.reasons == ()


@pytest.mark.parametrize(("signal", "value", "points"), [
    ("days_beyond_terms", D(0), 5), ("days_beyond_terms", D("4.9"), 5), ("days_beyond_terms", D(15), -15),
    ("days_beyond_terms", D(45), -30),
    ("dbt_trend", D(5), -10), ("dbt_trend", D(20), -20),
    ("late_share", D(25), -10), ("late_share", D(49), -10),
    ("utilisation", D(95), -5), ("utilisation", D(130), -20), ("peak_utilisation", D(120), -10),
    ("disputes", D(2), -5), ("disputes", D(7), -15),
    ("broken_promises", D(1), -10), ("broken_promises", D(3), -25),
    ("failed_charges", D(1), -10), ("failed_charges", D(4), -20),
    ("account_months", D(3), -10), ("account_months", D(36), 10),
])
def test_each_signal_moves_the_score_by_its_documented_points(signal, value, points):
    """The points are written here, not read from the policy: a changed default must change this table too."""
    scored = review(customer(**{signal: value}), POLICY)
    assert scored.score == 100 + points
    [moved] = [s for s in scored.scored if s.points]
    assert (moved.signal, moved.points) == (signal, points)
    assert scored.reasons[0].endswith(f"({points:+d})")


def test_every_band_of_the_default_policy_is_reached_by_its_own_edge():
    """The steady customer sits in a 0-point band of every signal, so each edge adds exactly its band's points."""
    for signal, bands in DEFAULT_BANDS.items():
        for band in bands:
            assert review(customer(**{signal: band.at_least}), POLICY).score == 100 + band.points, (signal, band)


def test_paying_earlier_than_before_earns_nothing_extra():
    assert review(customer(dbt_trend=D(-12)), POLICY).score == 100


def test_reasons_say_what_moved_the_score_most_first_in_words():
    worried = review(customer(days_beyond_terms=D("31.26"), broken_promises=D(1), account_months=D(40)), POLICY)
    assert worried.reasons == ("pays 31.3 days late on average (-30)", "a customer for 40 months (+10)",
                               "1 broken promise(s) (-10)")
    assert worried.score == 70 and worried.recommendation == "lower"


def test_an_unknown_signal_is_worth_nothing_and_says_why():
    unsure = review(customer(days_beyond_terms=None, why={"days_beyond_terms": "no payment in 12 months"}), POLICY)
    assert unsure.score == 100
    assert unsure.reasons == ("days paid after the due date, weighted by amount: unknown (no payment in 12 months)",)


def test_hold_lower_and_their_limits():
    held = review(customer(days_beyond_terms=D(40), broken_promises=D(3)), POLICY)
    assert (held.score, held.recommendation, held.proposed_limit_cents) == (45, "hold", 1_000_000)
    lowered = review(customer(limit=1_234_500, days_beyond_terms=D(20), failed_charges=D(1)), POLICY)
    assert (lowered.score, lowered.recommendation) == (75, "lower")
    assert lowered.proposed_limit_cents == 900_000  # 12,345.00 less 25 % = 9,258.75, down to the 1,000.00 step


def test_a_raise_needs_a_good_score_and_a_limit_in_use():
    good = dict(days_beyond_terms=D(1), account_months=D(60))
    raised = review(customer(limit=1_010_000, peak_utilisation=D(70), **good), POLICY)
    assert (raised.score, raised.recommendation) == (115, "raise")
    assert raised.proposed_limit_cents == 1_300_000  # 10,100.00 plus 25 % = 12,625.00, up to the 1,000.00 step
    idle = review(customer(peak_utilisation=D("69.9"), **good), POLICY)
    assert (idle.score, idle.recommendation, idle.proposed_limit_cents) == (115, "keep", 1_000_000)
    unknown_use = review(customer(peak_utilisation=None, **good), POLICY)
    assert unknown_use.recommendation == "keep"  # unknown is not "in use"


def test_a_customer_who_pays_but_mostly_late_is_offered_other_terms():
    late = review(customer(late_share=D(60)), POLICY)
    assert (late.score, late.recommendation) == (80, "change terms")
    assert review(customer(late_share=D(60), days_beyond_terms=D(30)), POLICY).recommendation == "hold"


def test_without_a_limit_on_file_no_amount_is_proposed_and_the_reason_says_so():
    unset = review(customer(limit=None, days_beyond_terms=D(20), failed_charges=D(1)), POLICY)
    assert (unset.recommendation, unset.proposed_limit_cents) == ("lower", None)
    assert unset.reasons[0] == "no credit limit on file: set one"


def test_the_policy_block_is_the_scorecard():
    strict = CreditPolicy(bands={**DEFAULT_BANDS, "disputes": [Band(at_least=D(0), points=0, reason="{value}"),
                                                               Band(at_least=D(1), points=-45,
                                                                                    reason="{value} dispute")]})
    assert review(customer(disputes=D(1)), strict).recommendation == "hold"
    assert review(customer(disputes=D(1)), POLICY).score == 100


@pytest.mark.parametrize(("change", "message"), [
    ({"bands": {"mood": [Band(at_least=D(0), points=1, reason="x")]}}, "unknown signals ['mood']"),
    ({"bands": {"disputes": [Band(at_least=D(2), points=0, reason="x"), Band(at_least=D(1), points=0, reason="y")]}},
     "rising at_least"),
    ({"hold_below": 90}, "hold_below 90 <= lower_below 80 < raise_from 105 must hold"),
])
def test_a_policy_that_cannot_be_read_one_way_is_refused(change, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CreditPolicy(**change)


def test_every_signal_is_documented_and_scored():
    assert set(DEFAULT_BANDS) == set(SIGNALS)


def test_a_limit_under_one_step_is_lowered_to_the_cent_never_to_nothing():
    small = review(customer(limit=100_000, days_beyond_terms=D(20), failed_charges=D(1)), POLICY)
    assert (small.recommendation, small.proposed_limit_cents) == ("lower", 75_000)  # 1,000.00 less 25 %, not 0.00
