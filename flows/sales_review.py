"""Sales before the final notice: the nightly's heads-up to the reps (sales-heads-up), and one sales-review run
per rep and day that waits in the Prefect UI for the rep's choices (proceed, hold, soften) and records them with
who and why. Silence means proceed: when the answer window closes the run completes, recording nothing.

Prefect fails a paused run whose pause times out, so the run does not rely on the pause's timeout for silence:
a timer resumes it with an empty answer when the window closes, and the pause's own timeout (a little later) is
only the fallback should that fail.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_DUNNING_POLICY,
    DEFAULT_EMAIL,
    DEFAULT_ESCALATION_POLICY,
    DEFAULT_RECIPIENTS,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.escalation_policy import EscalationPolicy
from flows.dunning import send_instant
from tasks.answers_in_ui import wait_for_answer
from tasks.sales.answers import AccountChoice, SalesDecisions, record_answer
from tasks.sales.asking import SalesHeadsUp, ask_sales_reps
from tasks.sales.reviews import Recorded


def _heads_up_name() -> str:
    params = flow_run.parameters
    now = datetime.fromisoformat(str(params["now"])) if params.get("now") else None
    return f"sales-heads-up-{params.get('run_date') or company_today(params.get('company', DEFAULT_COMPANY), now)}"


@flow(name="sales-heads-up", flow_run_name=_heads_up_name)
def sales_heads_up(warehouse: str = DEFAULT_WAREHOUSE, company: str = DEFAULT_COMPANY,
                   dunning_policy: str = DEFAULT_DUNNING_POLICY,
                   escalation_policy: str = DEFAULT_ESCALATION_POLICY, recipients: str = DEFAULT_RECIPIENTS,
                   email_channel: str | None = DEFAULT_EMAIL, run_date: date | None = None,
                   now: datetime | None = None) -> SalesHeadsUp:
    """Ask the sales reps of accounts about to reach a final notice (tasks/sales). Reps' addresses: the report
    recipients block's sales_reps. now / run_date: as the nightly's (the ask is recorded at that instant)."""
    if not email_channel:
        raise ValueError(f"escalation policy {escalation_policy} asks sales reps by email, but no email channel "
                         "block is given; pass one, or leave the escalation policy out")
    profile: CompanyProfile = load_block(company)
    blocks = {"warehouse": warehouse, "company": company, "escalation_policy": escalation_policy}
    return ask_sales_reps(load_block(warehouse), profile, load_block(dunning_policy), load_block(escalation_policy),
                          load_block(recipients).sales_reps, load_block(email_channel), email_channel,
                          send_instant(profile, now, run_date), str(flow_run.id), blocks)


def _review_name() -> str:
    params = flow_run.parameters
    return f"sales-review-{params.get('sales_rep') or 'no-rep'}-{params['asked_on']}"


@flow(name="sales-review", flow_run_name=_review_name)
def sales_review(sales_rep: str | None, asked_on: date, accounts: list[dict], warehouse: str = DEFAULT_WAREHOUSE,
                 company: str = DEFAULT_COMPANY, escalation_policy: str = DEFAULT_ESCALATION_POLICY,
                 answer_seconds: int | None = None) -> list[Recorded] | State:
    """Wait for the rep's choices about these accounts (customer_id, customer_name, currency, step, final_on) and
    record them. answer_seconds: how long to wait (default: the escalation policy's sales_answer_hours)."""
    logger = get_run_logger()
    escalation: EscalationPolicy = load_block(escalation_policy)
    window = answer_seconds if answer_seconds is not None else escalation.sales_answer_hours * 3600
    listed = "\n".join(f"- {a['customer_name']} ({a['customer_id']}), {a['currency']}: final notice (step "
                       f"{a['step']}) on {a['final_on']}" for a in accounts)
    form = SalesDecisions.with_initial_data(
        description=f"Final notices of {sales_rep or 'accounts without a sales rep'}, asked on {asked_on}:\n\n{listed}"
                    f"\n\nChoose per account; hold ({escalation.sales_hold_days} days) and soften need a reason. "
                    "Nobody answering means proceed.",
        decided_by="", decisions=[AccountChoice(customer_id=a["customer_id"], currency=a["currency"])
                                  for a in accounts])
    answer = wait_for_answer(form, window, {"decided_by": "", "decisions": []})
    if not answer.decisions:
        logger.info("No answer from %s: proceeding", sales_rep or "sales")
        return Completed(message="no answer: proceeding", data=[])
    recorded = record_answer(load_block(warehouse), load_block(company), escalation, answer, accounts)
    logger.info("%d decision(s) recorded, %d refused", sum(r.refused is None for r in recorded),
                sum(r.refused is not None for r in recorded))
    return recorded
