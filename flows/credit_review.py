"""The credit review: every customer's signals scored on the credit policy (or one customer's, on demand), the
proposals published as a table and recorded, then the run waits in the Prefect UI for an approver's answer (a
form: approve all, per-customer overrides, reject, a comment). Only what the answer approves is written, with who,
when and why, and exported for the ERP. Nobody answering within the policy's answer_hours ends the review timed
out: nothing changes, and the run says so.

As in the sales review (flows/sales_review.py), a timer resumes the paused run with an empty answer when the window
closes, because Prefect fails a paused run whose own pause times out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, State

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_CREDIT_POLICY,
    DEFAULT_EMAIL,
    DEFAULT_RECIPIENTS,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.credit_policy import CreditPolicy
from blocks.warehouse import ArWarehouse
from reports.formats import money
from tasks import warehouse as wh
from tasks.answers_in_ui import wait_for_answer
from tasks.credit.decisions import CreditDecision, Decided, decide
from tasks.credit.notices import hold_notices, limit_text, proposal_notices, terms_notices
from tasks.credit.records import Change, account_people, apply_decisions, end_review, record_proposals, write_export
from tasks.credit.scorecard import Review, review
from tasks.credit.signals import credit_signals
from tasks.kpi.reports import read_ledger
from tasks.staff_mail import StaffNotice, run_url, send_staff_notices_task

EMPTY_ANSWER = {"decided_by": "", "approve_all": False, "overrides": [], "reject": False, "comment": ""}


def _name() -> str:
    params = flow_run.parameters
    who = params.get("customer") or "all"
    return f"credit-review-{who}-{params.get('as_of') or company_today(params.get('company', DEFAULT_COMPANY))}"


@task(name="review-credit", cache_policy=NO_CACHE)
def review_credit(store: ArWarehouse, company: CompanyProfile, policy: CreditPolicy, as_of: date,
                  customer: str | None) -> tuple[list[Review], dict[str, int | None]]:
    """Each customer's review, against the limit and hold in force; and, for a customer whose limit in force is an
    approval the ERP has not imported yet, the limit the ledger still shows."""
    engine = store.engine()
    try:
        ledger = read_ledger(engine, company.time_zone, as_of)
        with engine.connect() as conn:
            limits = wh.query_frame(conn, wh.named_query("credit", "customers"),
                                    {"default_currency": company.default_currency})
            charges = wh.query_frame(conn, wh.named_query("credit", "charges"))
    finally:
        engine.dispose()
    if customer:
        limits = limits[limits["customer_id"] == customer]
        if limits.empty:
            raise ValueError(f"customer {customer!r} is not in the warehouse (internal customers are not reviewed)")
    signals = credit_signals(ledger, limits, charges, as_of, policy.review_months, policy.late_grace_days)
    pending = limits[(limits["limit_source"] == "arpilot") & (limits["ledger_limit_cents"].fillna(-1)
                                                             != limits["credit_limit_cents"].fillna(-1))]
    return [review(s, policy) for s in signals], {
        c: None if pd.isna(v) else int(v) for c, v in zip(pending["customer_id"], pending["ledger_limit_cents"],
                                                          strict=True)}


SEVERITY = ("hold", "lower", "change terms", "raise", "keep")


def _publish(reviews: list[Review], erp_shows: dict[str, int | None], company: CompanyProfile, key: str,
             description: str) -> None:
    """The proposals, the most serious first; a limit in force the ERP has not imported yet says what it shows."""
    def limit(cents, currency):
        return "-" if cents is None else money(int(cents), currency, company.locale)

    create_table_artifact(key=key, description=description, table=[
        {"customer": r.customer_id, "score": r.score, "recommendation": r.recommendation,
         "limit": limit(r.limit_cents, r.currency) + (f" (approved; the ERP still shows "
                                                      f"{limit(erp_shows[r.customer_id], r.currency)})"
                                                      if r.customer_id in erp_shows else ""),
         "proposed": limit(r.proposed_limit_cents, r.currency), "reasons": "; ".join(r.reasons)}
        for r in sorted(reviews, key=lambda r: (SEVERITY.index(r.recommendation), r.score, r.customer_id))])


def _publish_decisions(decided: list[Decided], changes: list[Change], terms: list[Review], path: Path | None,
                       company: CompanyProfile) -> None:
    """What each decided line leads to, for the controller: written and exported, agreed by people, or nothing."""
    written, agreed = {c.customer_id: c for c in changes}, {r.customer_id for r in terms}

    def outcome(d: Decided) -> str:
        if d.customer_id in written:
            c = written[d.customer_id]
            hold = {(False, True): "; put on hold", (True, False): "; released from hold"}.get(
                (c.hold_before, c.hold_after), "")
            return (f"limit {limit_text(c.limit_before_cents, c.currency, company)} -> "
                    f"{limit_text(c.limit_after_cents, c.currency, company)}"
                    f"{hold}: written, exported to {path}")
        if d.customer_id in agreed:
            return "change terms: the sales rep agrees them with the customer and sets them in the ERP"
        return "rejected: nothing changes" if d.decision == "rejected" else "nothing changes"

    create_table_artifact(key="credit-review-decisions", description="What the approver's answer changed",
                          table=[{"customer": d.customer_id, "decision": d.decision, "why": d.why,
                                  "outcome": outcome(d)} for d in decided])


def tell_sales_reps(engine, email_name: str | None, notices: list[StaffNotice], unaddressed: list[str],
                    company: CompanyProfile, what: str) -> None:
    """Send the reps' emails once each (a rerun sends none twice) and say who could not be told."""
    if unaddressed:
        get_run_logger().warning("Sales reps without an address in the report recipients, not told of %s: %s", what,
                                 ", ".join(unaddressed))
    if email_name and notices:
        send_staff_notices_task(engine, load_block(email_name), email_name, notices, str(flow_run.id),
                                company.legal_name)


@flow(name="credit-review", flow_run_name=_name)
def credit_review(warehouse: str = DEFAULT_WAREHOUSE, company: str = DEFAULT_COMPANY,
                  credit_policy: str = DEFAULT_CREDIT_POLICY, customer: str | None = None,
                  started_by: str = "schedule", as_of: date | None = None,
                  answer_seconds: int | None = None, recipients: str = DEFAULT_RECIPIENTS,
                  email_channel: str | None = DEFAULT_EMAIL) -> int | State:
    """Review, tell each sales rep their accounts' proposals, wait for approval, apply what is approved and tell the
    rep of a hold; returns the changes written. customer: review only this one (on demand, or started by an
    event); answer_seconds: the approval window (default: the policy's); email_channel empty: nobody is emailed."""
    logger = get_run_logger()
    profile: CompanyProfile = load_block(company)
    policy: CreditPolicy = load_block(credit_policy)
    store: ArWarehouse = load_block(warehouse)
    sales_reps = load_block(recipients).sales_reps
    day = as_of or profile.today()
    reviews, erp_shows = review_credit(store, profile, policy, day, customer)
    changing = [r for r in reviews if r.recommendation != "keep"]
    _publish(changing, erp_shows, profile, "credit-review", f"Credit review of {day}: {len(reviews)} customers, "
                                                 f"{len(changing)} proposals (keep is not listed)")
    review_id = str(flow_run.id)
    engine = store.engine()
    with engine.begin() as conn:
        record_proposals(conn, review_id, day, started_by, changing)
        customers = account_people(conn)
    window = answer_seconds if answer_seconds is not None else policy.answer_hours * 3600
    answer_by = (datetime.now(ZoneInfo(profile.time_zone)) + timedelta(seconds=window)).strftime("%Y-%m-%d %H:%M %Z")
    tell_sales_reps(engine, email_channel, *proposal_notices(
        review_id, changing, customers, sales_reps, profile, answer_by, run_url(review_id),
        f'arpilot credit comment --review {review_id} --customer <id> --by "<your name>" --comment "..."'),
        profile, "the proposals")
    form = CreditDecision.with_initial_data(
        description=f"{len(changing)} credit proposals of {day} (the credit-review artifact lists them with their "
                    "reasons; sales reps' comments are in credit-review-comments). Approve all, override single "
                    "customers (another limit or hold, with why), or reject. "
                    f"Nobody answering by {answer_by} changes nothing.",
        decided_by="", approve_all=False, overrides=[], reject=False, comment="")
    if not changing:
        return Completed(message="nothing to decide: every customer keeps their limit", data=0)
    answer = wait_for_answer(form, window, EMPTY_ANSWER)
    if not (answer.decided_by or answer.approve_all or answer.overrides or answer.reject):
        with engine.begin() as conn:
            end_review(conn, review_id, "timed_out", datetime.now(UTC), "nobody answered: nothing changed")
        logger.info("No answer within the approval window: nothing changed")
        return Completed(message="no answer: nothing changed", data=0)
    decided, refused = decide(changing, answer)
    for why in refused:
        logger.warning("Not applied: %s", why)
    if not decided:
        with engine.begin() as conn:
            end_review(conn, review_id, "not_decided", datetime.now(UTC), "; ".join(refused))
        return Completed(message=f"nothing approved: {'; '.join(refused)}; start the review again to decide it",
                         data=0)
    by, now = answer.decided_by.strip(), datetime.now(UTC)
    with engine.begin() as conn:
        changes = apply_decisions(conn, review_id, decided, by, now, answer.comment)
        path = write_export(conn, review_id, profile.today(now), Path(policy.export_dir)) if changes else None
    logger.info("%d change(s) approved by %s, written%s", len(changes), by, f" and exported to {path}" if path else "")
    as_proposed = {d.customer_id for d in decided if d.decision == "approved"}
    terms = [r for r in changing if r.recommendation == "change terms" and r.customer_id in as_proposed]
    _publish_decisions(decided, changes, terms, path, profile)
    tell_sales_reps(engine, email_channel, hold_notices(changes, customers, sales_reps, profile, by)
                    + terms_notices(review_id, terms, customers, sales_reps, profile, by), [], profile,
                    "holds and terms")
    return len(changes)
