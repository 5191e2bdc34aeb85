"""The nightly's credit watch: customers over the limit in force (a breach lasts from the night it is first seen
until the night it is not; the collector and the sales rep are told once per breach), and the news that starts a
customer's credit review early, each announced once as an event: arpilot.credit.limit-exceeded,
arpilot.credit.large-dispute (a new dispute worth at least the policy's share of the limit) and
arpilot.credit.autopay-failed (a charge that failed for good).

An event is reserved in credit_events in the transaction that emits it: an emit Prefect's events client did not take
reserves nothing (the next night announces it), and a run that dies after the emit but before the commit announces
it again the next night (a second review of the customer, never a lost one). An event the client took is delivered
by it, in the background, as Prefect delivers every event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from sqlalchemy.engine import Connection

from blocks.company import CompanyProfile
from blocks.credit_policy import CreditPolicy
from blocks.email_channel import EmailChannel
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from reports.formats import money
from tasks import warehouse as wh
from tasks.credit.notices import Breach, breach_notices
from tasks.credit.records import account_people, mark_imported
from tasks.staff_mail import StaffMailResult, send_staff_notices

LIMIT_EXCEEDED = "arpilot.credit.limit-exceeded"
LARGE_DISPUTE = "arpilot.credit.large-dispute"
AUTOPAY_FAILED = "arpilot.credit.autopay-failed"


class EventNotTaken(RuntimeError):
    """emit_event returned no event (no events client): the event is not reserved, the next night announces it."""


@dataclass(frozen=True)
class CreditEvent:
    key: str  # what it is about: announced once, ever
    event: str
    customer_id: str
    detail: str


@dataclass
class CreditWatch:
    over: list[Breach] = field(default_factory=list)  # every customer over the limit tonight
    new: list[Breach] = field(default_factory=list)  # of them, the breaches first seen tonight
    ended: int = 0
    events: list[CreditEvent] = field(default_factory=list)  # announced tonight
    unannounced: list[CreditEvent] = field(default_factory=list)  # Prefect did not take them: tried again
    mail: StaffMailResult = field(default_factory=StaffMailResult)


def breach_changes(over: pd.DataFrame, open_breaches: pd.DataFrame, today: date) -> tuple[list[Breach],
                                                                                          list[tuple[str, str]]]:
    """Tonight's new breaches (over the limit, none open) and the open breaches that ended (no longer over)."""
    now_over = {(r.customer_id, r.currency): r for r in over.itertuples(index=False)}
    still_open = {(r.customer_id, r.currency) for r in open_breaches.itertuples(index=False)}
    new = [Breach(c, cur, today.isoformat(), int(r.limit_cents), int(r.open_cents))
           for (c, cur), r in now_over.items() if (c, cur) not in still_open]
    return new, sorted(still_open - set(now_over))


def early_events(new: list[Breach], disputes: pd.DataFrame, charges: pd.DataFrame,
                 company: CompanyProfile) -> list[CreditEvent]:
    """The events the credit review starts early on, keyed by what they are about."""
    def amount(cents, currency) -> str:
        return money(int(cents), currency, company.locale)

    events = [CreditEvent(f"limit-exceeded|{b.customer_id}|{b.currency}|{b.started_on}", LIMIT_EXCEEDED,
                          b.customer_id, f"owes {amount(b.open_cents, b.currency)} on a limit of "
                                         f"{amount(b.limit_cents, b.currency)}") for b in new]
    events += [CreditEvent(f"large-dispute|{d.dispute_id}", LARGE_DISPUTE, d.customer_id,
                           f"disputes {amount(d.amount_cents, d.currency)} on a limit of "
                           f"{amount(d.limit_cents, d.currency)}") for d in disputes.itertuples(index=False)]
    events += [CreditEvent(f"autopay-failed|{c.charge_key}", AUTOPAY_FAILED, c.customer_id,
                           f"autopay charge of {amount(c.amount_cents, c.currency)} on {c.charge_day} failed for "
                           f"good: {c.failure_reason or 'declined'}") for c in charges.itertuples(index=False)]
    return events


def announce(conn: Connection, event: CreditEvent, customer_name: str, at: str) -> bool:
    """Emit the event unless it went out before; True when it went out now."""
    fresh = conn.execute(sa.text(
        "INSERT INTO credit_events (event_key, event, customer_id, detail, emitted_at) VALUES (:k, :e, :c, :d, :t) "
        "ON CONFLICT (event_key) DO NOTHING"),
        {"k": event.key, "e": event.event, "c": event.customer_id, "d": event.detail, "t": at}).rowcount
    if fresh and emit_event(event=event.event, payload={"customer_id": event.customer_id, "detail": event.detail,
                                                        "key": event.key},
                            resource={"prefect.resource.id": f"arpilot.customer.{event.customer_id}",
                                      "prefect.resource.name": customer_name}) is None:
        raise EventNotTaken(f"Prefect's events client did not take {event.event} for {event.customer_id}")
    return bool(fresh)


def _record_breaches(conn: Connection, new: list[Breach], ended: list[tuple[str, str]], today: date) -> None:
    """A breach that ended and began again on the same day (a second nightly) is the same breach, reopened."""
    if new:
        conn.execute(sa.text("INSERT INTO credit_breaches (customer_id, currency, started_on, limit_cents, open_cents) "
                             "VALUES (:c, :cur, :d, :l, :o) ON CONFLICT (customer_id, currency, started_on) "
                             "DO UPDATE SET ended_on = NULL"),
                     [{"c": b.customer_id, "cur": b.currency, "d": today, "l": b.limit_cents, "o": b.open_cents}
                      for b in new])
    if ended:
        conn.execute(sa.text("UPDATE credit_breaches SET ended_on = :d WHERE customer_id = :c AND currency = :cur "
                             "AND ended_on IS NULL"), [{"d": today, "c": c, "cur": cur} for c, cur in ended])


@task(name="note-erp-credit-imports", cache_policy=NO_CACHE)
def note_erp_imports(store: ArWarehouse, today: date) -> int:
    """After the sync: the approved credit changes the ledger now shows are imported; from then on the ERP's word is
    the limit in force (tasks/credit/records.mark_imported)."""
    with store.engine().begin() as conn:
        noted = mark_imported(conn, today)
    if noted:
        get_run_logger().info("The ERP imported %d approved credit change(s): the ledger's limits are in force", noted)
    return noted


@task(name="watch-credit", cache_policy=NO_CACHE)
def watch_credit(store: ArWarehouse, company: CompanyProfile, policy: CreditPolicy, recipients: ReportRecipients,
                 email: EmailChannel | None, email_name: str | None, today: date, run_id: str) -> CreditWatch:
    """Record tonight's breaches, announce what starts a review early, and tell the collector and the sales rep of
    each open breach once (a notice the relay refused goes the next night)."""
    engine, watch = store.engine(), CreditWatch()
    params = {"default_currency": company.default_currency}
    with engine.begin() as conn:
        over = wh.query_frame(conn, wh.named_query("credit", "over_limit"), params)
        opened = wh.query_frame(conn, "SELECT customer_id, currency FROM credit_breaches WHERE ended_on IS NULL")
        watch.new, ended = breach_changes(over, opened, today)
        _record_breaches(conn, watch.new, ended, today)
        watch.ended = len(ended)
        breaches = wh.plain(wh.query_frame(conn, "SELECT customer_id, currency, started_on, limit_cents, open_cents "
                                                 "FROM credit_breaches WHERE ended_on IS NULL ORDER BY customer_id"))
        watch.over = [Breach(r.customer_id, r.currency, str(wh.to_date(r.started_on)), int(r.limit_cents),
                             int(r.open_cents)) for r in breaches.itertuples(index=False)]
        people = account_people(conn)
        since = {"since": today - timedelta(days=policy.event_days)}
        disputes = wh.query_frame(conn, wh.named_query("credit", "large_disputes"),
                                  {**params, **since, "percent": policy.large_dispute_percent})
        charges = wh.query_frame(conn, wh.named_query("credit", "failed_charges"), since)
    for event in early_events(watch.new, disputes, charges, company):
        try:
            with engine.begin() as conn:
                if announce(conn, event, people[event.customer_id]["name"], wh.utcnow()):
                    watch.events.append(event)
        except EventNotTaken as error:
            watch.unannounced.append(event)
            get_run_logger().warning("%s; announced again by the next nightly", error)
    if email:
        notices = breach_notices(watch.over, people, recipients.collectors, recipients.sales_reps, company)
        watch.mail = send_staff_notices(engine, email, email_name, notices, run_id, company.legal_name)
    engine.dispose()
    _publish(watch, people, company, today)
    return watch


def _publish(watch: CreditWatch, people: dict[str, dict], company: CompanyProfile, today: date) -> None:
    told = {n.customer_id: "told now" for n in watch.mail.sent} | {n.customer_id: "told before"
                                                                   for n in watch.mail.already}
    rows = [{"Customer": f"{people[b.customer_id]['name']} ({b.customer_id})", "Since": b.started_on,
             "Limit": money(b.limit_cents, b.currency, company.locale),
             "Open when it began": money(b.open_cents, b.currency, company.locale),
             "Collector and sales rep": told.get(b.customer_id, "not told: no address in the report recipients "
                                                                "or no email channel")} for b in watch.over]
    create_table_artifact(rows, key="credit-watch", description=(
        f"Customers over their credit limit on {today}: {len(watch.over)} ({len(watch.new)} new tonight, "
        f"{watch.ended} back under it). Events announced: "
        + (", ".join(f"{e.event} {e.customer_id}" for e in watch.events) or "none")))
    get_run_logger().info("Credit watch: %d over the limit (%d new, %d back under), %d event(s) announced",
                          len(watch.over), len(watch.new), watch.ended, len(watch.events))
