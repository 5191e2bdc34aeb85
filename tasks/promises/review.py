"""Tonight's review of promises to pay: record the ledger's new ones, renew holds with tonight's grace, judge the
open ones kept or broken against the payments, and announce each outcome once.

A broken promise is announced as the event arpilot.promise.broken (an automation can act on it at once), and
when it is the customer's n-th within the window the sales rep is told by email (staff_notices, once per
promise). The customer's thank-you, the firm email and the collector's call task go out with dunning
(tasks/promises/notices.py), which honours the contact gate, opt-outs and local hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from sqlalchemy.engine import Engine

from blocks.company import CompanyProfile
from blocks.email_channel import EmailChannel
from blocks.escalation_policy import EscalationPolicy
from reports.formats import money
from tasks import warehouse as wh
from tasks.promises.records import (
    cancel_withdrawn,
    claim_announcement,
    record_ledger_promises,
    renew_holds,
    save_verdicts,
)
from tasks.promises.rules import ANNOUNCE_DAYS, BROKEN, broken_event, judge_promises, sales_heads_up
from tasks.staff_mail import StaffMailResult, StaffNotice, render_staff, send_staff_notices


@dataclass
class PromiseReview:
    day: date
    recorded: int = 0  # new promises from the ledger
    kept: int = 0
    broken: int = 0
    cancelled: int = 0  # ledger promises the ledger withdrew (another date promised, or struck out)
    events: list[str] = field(default_factory=list)  # promise ids announced as broken tonight
    unaddressed: list[str] = field(default_factory=list)  # sales reps with no address in the report recipients
    staff: StaffMailResult = field(default_factory=StaffMailResult)


def judge_tonight(engine: Engine, policy: EscalationPolicy, today: date) -> PromiseReview:
    """Record the ledger's promises, renew holds, and write tonight's verdicts."""
    review = PromiseReview(today)
    with engine.begin() as conn:
        review.recorded = record_ledger_promises(conn, policy.promise_grace_days, today)
        renew_holds(conn, policy.promise_grace_days)
        promises = wh.query_frame(conn, wh.named_query("promises", "open_promises"))
        since = min((pd.Timestamp(d).date() for d in promises["recorded_on"]), default=today)
        payments = wh.query_frame(conn, wh.named_query("promises", "payments"), {"since": since})
        counts = save_verdicts(conn, judge_promises(promises, payments, today), today)
        review.cancelled = cancel_withdrawn(conn, today)
    review.kept, review.broken = counts.get("kept", 0), counts.get(BROKEN, 0)
    return review


def sales_notice(promise: dict, to: str, company: CompanyProfile, threshold: int, window_days: int) -> StaffNotice:
    key = f"promise|{promise['promise_id']}|sales"
    context = {"company": {"legal_name": company.legal_name}, "reference": key, "promise": promise,
               "amount": money(int(promise["amount_cents"]), promise["currency"], company.locale),
               "paid": money(int(promise["paid_cents"] or 0), promise["currency"], company.locale),
               "promised_for": pd.Timestamp(promise["promised_for"]).date().isoformat(),
               "threshold": threshold, "window_days": window_days}
    return StaffNotice(key, "promise-broken-sales", (to,), render_staff("promise-broken-sales", context),
                       promise["customer_id"])


def announce(engine: Engine, policy: EscalationPolicy, sales_reps: dict[str, str], company: CompanyProfile,
             review: PromiseReview) -> list[StaffNotice]:
    """Emit each newly broken promise's event once; return the sales reps' notices due (sent once by key: the
    customer's latest broken promise)."""
    with engine.begin() as conn:
        rows = wh.query_frame(conn, wh.named_query("promises", "resolved_lately"), {
            "since": review.day - timedelta(days=ANNOUNCE_DAYS),
            "window_start": review.day - timedelta(days=policy.broken_promise_window_days)})
    rows = wh.plain(rows)
    for promise in rows.to_dict("records"):
        if promise["announced_at"] is None:
            with engine.begin() as conn:
                claimed = claim_announcement(conn, promise["promise_id"])
            if claimed and promise["status"] == BROKEN:
                emit_event(**broken_event(promise))
                review.events.append(promise["promise_id"])
    notices = []
    for promise in sales_heads_up(rows[rows["status"] == BROKEN], policy.broken_promises_for_sales).to_dict("records"):
        to = sales_reps.get(promise["sales_rep"] or "")
        if to:
            notices.append(sales_notice(promise, to, company, policy.broken_promises_for_sales,
                                        policy.broken_promise_window_days))
        else:
            review.unaddressed.append(promise["sales_rep"] or "no sales rep in the ledger")
    return notices


@task(name="review-promises", cache_policy=NO_CACHE)
def review_promises_task(engine: Engine, policy: EscalationPolicy, sales_reps: dict[str, str],
                         company: CompanyProfile, email: EmailChannel | None, email_name: str, today: date,
                         run_id: str) -> PromiseReview:
    """Judge tonight's promises and announce the outcomes; logs what was decided and who was told."""
    logger = get_run_logger()
    review = judge_tonight(engine, policy, today)
    notices = announce(engine, policy, sales_reps, company, review)
    if notices and email is None:
        logger.warning("%d sales rep notice(s) not sent: no email channel given", len(notices))
    elif notices:
        review.staff = send_staff_notices(engine, email, email_name, notices, run_id, company.sender_name)
    logger.info("Promises on %s: %d new from the ledger, %d kept, %d broken, %d withdrawn by the ledger; %d broken "
                "announced; sales reps told: %d (%d by an earlier run)", today, review.recorded, review.kept,
                review.broken, review.cancelled, len(review.events), len(review.staff.sent), len(review.staff.already))
    for rep in sorted(set(review.unaddressed)):
        logger.warning("Sales rep %s has no address in the report recipients: not told of repeated broken "
                       "promises", rep)
    return review
