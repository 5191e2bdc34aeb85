"""The approver's answer, as the Prefect UI's form takes it, applied to a review's proposals: approve all as
proposed, override some (another limit or hold, with why), reject all. Pure: what each proposal becomes; nothing
is written here (tasks/credit/records.py writes only what this approves).

Rules. No name: nothing is approved (a change without who approved it is not a change). Reject: every line
rejected, whatever else the form says. An override names a customer the review proposed something for and says
why; one about another customer, or without why, is refused with the reason. Lines neither approved nor
overridden stay as they were (rejected when the answer approves only some).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from prefect.input import RunInput
from pydantic import BaseModel, Field

from tasks.credit.scorecard import Review


class Override(BaseModel):
    customer_id: str = Field(..., description="The customer, as in the ledger.")
    limit: Decimal | None = Field(None, ge=0, description="The credit limit to set instead (empty: keep the limit).")
    hold: bool | None = Field(None, description="Put on credit hold (true), release (false), or leave as is.")
    why: str = Field("", description="Why, for the history and the sales rep.")


class CreditDecision(RunInput):
    decided_by: str = Field("", description="Your name, as the approval is to be recorded.")
    approve_all: bool = Field(False, description="Approve every proposal as the review made it.")
    overrides: list[Override] = Field(default_factory=list, description="Per customer: another limit or hold.")
    reject: bool = Field(False, description="Reject the whole review: nothing changes.")
    comment: str = Field("", description="A note on the review as a whole.")


@dataclass(frozen=True)
class Decided:
    customer_id: str
    decision: str  # approved | overridden | rejected
    limit_cents: int | None  # the limit after (None: unchanged or no limit)
    hold: bool | None  # the hold after (None: unchanged)
    why: str


def decide(reviews: list[Review], answer: CreditDecision) -> tuple[list[Decided], list[str]]:
    """(what each proposal becomes, the refusals in words)."""
    if not answer.decided_by.strip():
        return [], ["no name given: nothing is approved without who approves it"]
    if answer.reject:
        return [Decided(r.customer_id, "rejected", None, None, answer.comment or "review rejected")
                for r in reviews], []
    proposed = {r.customer_id: r for r in reviews}
    refused, overridden = [], {}
    for o in answer.overrides:
        if o.customer_id not in proposed:
            refused.append(f"{o.customer_id}: not in this review")
        elif not o.why.strip():
            refused.append(f"{o.customer_id}: an override needs why")
        else:
            cents = None if o.limit is None else int((o.limit * 100).to_integral_value())
            overridden[o.customer_id] = Decided(o.customer_id, "overridden", cents, o.hold, o.why.strip())
    decided = []
    for r in reviews:
        if r.customer_id in overridden:
            decided.append(overridden[r.customer_id])
        elif answer.approve_all:
            decided.append(Decided(r.customer_id, "approved", r.proposed_limit_cents,
                                   True if r.recommendation == "hold" else None, "; ".join(r.reasons[:3])))
        else:
            decided.append(Decided(r.customer_id, "rejected", None, None, "not approved"))
    return decided, refused
