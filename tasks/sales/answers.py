"""The sales rep's answer as the Prefect UI takes it (a form per account, prefilled with proceed) and its
recording: each choice with who, why and when, on the account's final notice, or refused with the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from pydantic import BaseModel, Field

from blocks.company import CompanyProfile
from blocks.escalation_policy import EscalationPolicy
from blocks.warehouse import ArWarehouse
from tasks.sales.reviews import Decision, Recorded, record_decision


class AccountChoice(BaseModel):
    customer_id: str = Field(..., description="The customer, as in the ledger.")
    currency: str = Field(..., description="The account's currency.")
    choice: Literal["proceed", "hold", "soften"] = Field("proceed", description="proceed: the final notice goes "
                                                         "out; hold: no reminders for a while; soften: firm tone.")
    reason: str = Field("", description="Why (required for hold and soften).")


class SalesDecisions(RunInput):
    decided_by: str = Field("", description="Your name, as the decision is to be recorded.")
    decisions: list[AccountChoice] = Field(default_factory=list, description="One choice per account.")


@task(name="record-sales-answer", cache_policy=NO_CACHE)
def record_answer(store: ArWarehouse, company: CompanyProfile, escalation: EscalationPolicy,
                  answer: SalesDecisions, accounts: list[dict]) -> list[Recorded]:
    """Record each choice (who, why, when) on its account's final notice; a choice about an account this run
    did not ask about, or without a name or a needed reason, is refused and shown as such."""
    now = datetime.now(ZoneInfo(company.time_zone)).replace(microsecond=0)
    mine = {(a["customer_id"], a["currency"]) for a in accounts}
    recorded = []
    engine = store.engine()
    with engine.begin() as conn:
        for choice in answer.decisions:
            decision = Decision(choice.customer_id, choice.currency, choice.choice, answer.decided_by, choice.reason)
            if (choice.customer_id, choice.currency) not in mine:
                recorded.append(Recorded(decision, refused="not one of this review's accounts"))
                continue
            recorded.append(record_decision(conn, decision, now, company.today(now), escalation.sales_hold_days))
    engine.dispose()
    create_table_artifact([{
        "Customer": r.decision.customer_id, "Currency": r.decision.currency, "Choice": r.decision.choice,
        "By": r.decision.decided_by, "Reason": r.decision.reason, "Final notice": f"step {r.step} on {r.final_on}"
        if r.step is not None else "", "Hold until": str(r.hold_until or ""), "Recorded": r.refused or "yes"}
        for r in recorded], key="sales-review", description=f"The sales rep's answer, recorded at {now:%Y-%m-%d %H:%M}")
    return recorded
