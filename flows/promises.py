"""Promises to pay: record one a person took (a form in the Prefect UI, or `arpilot promise record`), and the
nightly review that judges them kept or broken and announces each outcome once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_ESCALATION_POLICY,
    DEFAULT_RECIPIENTS,
    DEFAULT_WAREHOUSE,
    BlockNotFound,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.escalation_policy import EscalationPolicy
from reports.formats import money
from tasks.promises.records import RecordedPromise
from tasks.promises.records import record_promise as write_promise
from tasks.promises.review import PromiseReview, review_promises_task


def _record_name() -> str:
    p = flow_run.parameters
    return f"promise-{p['customer_id']}-{str(p['currency']).strip().upper()}-{p['promised_for']}"


@flow(name="record-promise", flow_run_name=_record_name)
def record_promise(customer_id: str, currency: str, amount: Decimal, promised_for: date, taken_by: str,
                   source: Literal["collector", "phone", "portal", "sms"] = "collector", note: str | None = None,
                   warehouse: str = DEFAULT_WAREHOUSE, company: str = DEFAULT_COMPANY,
                   escalation_policy: str = DEFAULT_ESCALATION_POLICY) -> RecordedPromise:
    """Record a customer's promise to pay: reminders to that customer in that currency hold until the date plus
    the escalation policy's grace; then it is judged kept or broken by the nightly run.

    Args:
        customer_id: The customer's id as in the ledger, e.g. C000123.
        currency: The currency of the invoices the promise pays (ISO code, e.g. USD).
        amount: The amount promised, e.g. 1250.00.
        promised_for: The date the customer promised to pay by (not before today, company calendar).
        taken_by: Who took the promise (your name).
        source: Where the promise came from: collector, phone, portal or sms.
        note: Anything worth knowing about the promise.
        warehouse: The AR warehouse block (block-type-slug/name).
        company: The company profile block, whose calendar says what today is.
        escalation_policy: The escalation policy block, whose promise_grace_days extends the hold.
    """
    profile: CompanyProfile = load_block(company)
    policy: EscalationPolicy = load_block(escalation_policy)
    engine = load_block(warehouse).engine()
    today = profile.today()
    with engine.begin() as conn:
        promise = write_promise(conn, customer_id, currency, amount, promised_for, source, taken_by, note, today,
                                policy.promise_grace_days)
    engine.dispose()
    amount_shown = money(promise.amount_cents, promise.currency, profile.locale)
    create_markdown_artifact(
        f"# Promise to pay recorded\n\n| | |\n| --- | --- |\n| Customer | {promise.customer_name} ({customer_id}) |\n"
        f"| Amount | {amount_shown} |\n| By | {promised_for} |\n| Reminders held until | {promise.hold_until} |\n"
        f"| Covers | {promise.invoices} open invoices, "
        f"{money(promise.open_cents, promise.currency, profile.locale)} |\n| Taken by | {taken_by} ({source}) |\n"
        f"| Id | `{promise.promise_id}` |", key="promise-recorded",
        description=f"Promise to pay of {customer_id}: {amount_shown} by {promised_for}")
    get_run_logger().info("Promise %s recorded: %s %s by %s, reminders held until %s", promise.promise_id,
                          customer_id, amount_shown, promised_for, promise.hold_until)
    return promise


def _review_name() -> str:
    return f"promises-{flow_run.parameters['run_date']}"


@flow(name="review-promises", flow_run_name=_review_name)
def review_promises(warehouse: str, company: str, escalation_policy: str, email_channel: str | None,
                    run_date: date, report_recipients: str = DEFAULT_RECIPIENTS) -> PromiseReview:
    """Judge open promises to pay kept or broken on run_date and announce each outcome once (the event, and the
    sales rep's email for a repeat); the nightly runs it before dunning, which then holds, thanks and chases."""
    profile: CompanyProfile = load_block(company)
    try:
        sales_reps = load_block(report_recipients).sales_reps
    except BlockNotFound:
        get_run_logger().warning("Block %s does not exist: no sales rep can be told of broken promises",
                                 report_recipients)
        sales_reps = {}
    email = load_block(email_channel) if email_channel else None
    review = review_promises_task(load_block(warehouse).engine(), load_block(escalation_policy), sales_reps,
                                  profile, email, email_channel or "", run_date, str(flow_run.id))
    create_markdown_artifact(
        f"# Promises to pay on {run_date}\n\n{review.recorded} new from the ledger; {review.kept} kept, "
        f"{review.broken} broken, {review.cancelled} withdrawn by the ledger tonight; {len(review.events)} broken announced (event arpilot.promise.broken); "
        f"sales reps told of repeated broken promises: {len(review.staff.sent)} (by an earlier run: "
        f"{len(review.staff.already)}, not sent: {len(review.staff.unsent)}). Every promise is in the warehouse "
        "table `promises`.", key="promise-review", description=f"Promises to pay judged on {run_date}")
    return review
