"""The approver's answer applied to a review's proposals: approve all, override some, reject, or nothing without a
name; overrides about other customers or without why are refused, never applied."""

from __future__ import annotations

from decimal import Decimal as D

from tasks.credit.decisions import CreditDecision, Override, decide
from tasks.credit.scorecard import Review

PROPOSALS = [Review("C1", "USD", 115, "raise", 1_000_000, 1_300_000, (), ("pays on time (+5)",)),
             Review("C2", "USD", 50, "hold", 500_000, 500_000, (), ("3 broken promises (-25)",)),
             Review("C3", "EUR", 100, "keep", 200_000, 200_000, (), ())]


def test_approve_all_takes_every_proposal_as_made():
    decided, refused = decide(PROPOSALS, CreditDecision(decided_by="Dana Controller", approve_all=True))
    assert refused == []
    assert [(d.customer_id, d.decision, d.limit_cents, d.hold) for d in decided] == [
        ("C1", "approved", 1_300_000, None), ("C2", "approved", 500_000, True), ("C3", "approved", 200_000, None)]


def test_an_override_replaces_its_line_and_the_rest_follow_approve_all_or_not():
    answer = CreditDecision(decided_by="Dana", approve_all=True, overrides=[
        Override(customer_id="C1", limit=D("11000.00"), why="sales asks for a smaller step")])
    decided, _ = decide(PROPOSALS, answer)
    assert (decided[0].decision, decided[0].limit_cents, decided[0].why) == (
        "overridden", 1_100_000, "sales asks for a smaller step")
    assert [d.decision for d in decided[1:]] == ["approved", "approved"]
    partial, _ = decide(PROPOSALS, answer.model_copy(update={"approve_all": False}))
    assert [d.decision for d in partial] == ["overridden", "rejected", "rejected"]


def test_reject_rejects_everything_whatever_else_the_form_says():
    decided, _ = decide(PROPOSALS, CreditDecision(decided_by="Dana", approve_all=True, reject=True,
                                                  comment="wait for the audit", overrides=[
                                                      Override(customer_id="C1", limit=D(1), why="x")]))
    assert {d.decision for d in decided} == {"rejected"} and decided[0].why == "wait for the audit"


def test_no_name_approves_nothing():
    assert decide(PROPOSALS, CreditDecision(approve_all=True)) == (
        [], ["no name given: nothing is approved without who approves it"])


def test_overrides_about_other_customers_or_without_why_are_refused():
    decided, refused = decide(PROPOSALS, CreditDecision(decided_by="Dana", overrides=[
        Override(customer_id="C9", limit=D(5), why="typo"), Override(customer_id="C2", hold=False)]))
    assert refused == ["C9: not in this review", "C2: an override needs why"]
    assert [d.decision for d in decided] == ["rejected", "rejected", "rejected"]
