"""A customer's text, handled: the opt-out changed, the balance looked up, a promise recorded, or the text put on
the collector's worklist; the text and what was done with it kept in ``sms_inbound``. One transaction per text,
together with the webhook's replay record (tasks/selfservice/guard.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.contacts.quality import mask
from tasks.promises.records import PromiseRefused, record_promise
from tasks.selfservice import sms

log = logging.getLogger("arpilot.selfservice")
TAKEN_BY = "sms"


@dataclass(frozen=True)
class SmsDesk:
    """What the answers need: the company's name, how to reach the AR desk, its locale, the promise grace, and
    whether arpilot answers STOP, START and HELP (only where Twilio does not: a second reply would confuse)."""
    company: str
    desk: str  # e.g. "ar@northwind.example or +1 312 555 0100"
    locale: str = "en_US"
    promise_grace_days: int = 3
    answers_keywords: bool = False


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    collector: str | None


def customers_by_phone(conn: Connection, phone: str) -> list[Customer]:
    return [Customer(*r) for r in conn.execute(sa.text(wh.named_query("selfservice", "customers_by_phone")),
                                               {"phone": phone})]


def open_balances(conn: Connection, customer_ids: list[str]) -> dict[str, dict[str, int]]:
    """Open cents per customer and currency. ("status || ''" keeps SQLite on the customer index, as the portal's
    open_invoices.sql does: on the status index it would walk every open invoice.)"""
    found: dict[str, dict[str, int]] = {}
    for customer in customer_ids:
        for currency, cents in conn.execute(sa.text(
                "SELECT currency, SUM(open_cents) FROM invoices WHERE customer_id = :c AND status || '' = 'open' "
                "AND open_cents > 0 GROUP BY currency"), {"c": customer}):
            found.setdefault(customer, {})[currency] = int(cents)
    return found


def set_sms_opt_out(conn: Connection, phone: str, opted_out: bool, reason: str) -> None:
    if opted_out:
        conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                             "VALUES ('sms', :a, :r, :t) ON CONFLICT (channel, address) DO NOTHING"),
                     {"a": phone, "r": reason, "t": wh.utcnow()})
    else:
        conn.execute(sa.text("DELETE FROM channel_opt_outs WHERE channel = 'sms' AND address = :a"), {"a": phone})


def to_worklist(conn: Connection, message_sid: str, customers: list[Customer], kind: str, detail: str,
                source: str = "sms") -> None:
    """An item per customer on its collector's worklist, keyed by where it came from (``source``: sms, ivr) and the
    sid, so the same text or voicemail never makes two."""
    for c in customers:
        conn.execute(sa.text(
            "INSERT INTO collector_worklist (item_key, collector, customer_id, kind, detail, created_at) "
            "VALUES (:k, :o, :c, :kind, :d, :t) ON CONFLICT (item_key) DO NOTHING"),
            {"k": f"{source}|{message_sid}|{c.customer_id}", "o": c.collector, "c": c.customer_id, "kind": kind,
             "d": detail, "t": wh.utcnow()})


def answer_text(conn: Connection, form: dict[str, str], desk: SmsDesk, today: date) -> str | None:
    """Handle one inbound text (Twilio's parameters); returns the reply, or None where Twilio answers itself."""
    sid, phone, body = form.get("MessageSid") or form.get("SmsSid") or "", form.get("From", ""), form.get("Body", "")
    command = sms.read_command(body, today)
    customers = customers_by_phone(conn, phone) if command.kind not in sms.KEYWORDS else []
    reply, outcome = _act(conn, sid, phone, command, customers, desk, today)
    conn.execute(sa.text(
        "INSERT INTO sms_inbound (message_sid, from_number, to_number, body, command, customer_ids, outcome, "
        "received_at) VALUES (:s, :f, :to, :b, :c, :ids, :o, :t) ON CONFLICT (message_sid) DO NOTHING"),
        {"s": sid, "f": phone, "to": form.get("To"), "b": body, "c": command.kind,
         "ids": ",".join(c.customer_id for c in customers), "o": outcome, "t": wh.utcnow()})
    log.info("SMS %s from %s: %s", command.kind, mask(phone), outcome)
    return reply


def _act(conn: Connection, sid: str, phone: str, command: sms.Command, customers: list[Customer], desk: SmsDesk,
         today: date) -> tuple[str | None, str]:
    if command.kind == "stop":
        set_sms_opt_out(conn, phone, True, f"replied {sms.keyword(command.text)} by SMS")
        return sms.stopped_text(desk.company) if desk.answers_keywords else None, "opted out of SMS"
    if command.kind == "start":
        set_sms_opt_out(conn, phone, False, "")
        return sms.started_text(desk.company) if desk.answers_keywords else None, "SMS opt-out lifted"
    if command.kind == "help":
        if not desk.answers_keywords:
            return None, "Twilio answered HELP"
        return sms.help_text(desk.company, desk.desk), "told how to reach the AR desk"
    if not customers:
        return sms.unknown_number_text(desk.desk), "number not on file: nothing disclosed"
    if command.kind == "balance":
        names = {c.customer_id: c.name for c in customers}
        return sms.balance_text(open_balances(conn, list(names)), names, desk.locale), "balance sent"
    if command.kind == "paid":
        to_worklist(conn, sid, customers, "sms_paid", f"Customer texted that they paid: {command.text}")
        return sms.PAID_TEXT, "on the collector's worklist"
    if command.kind == "promise":
        return _promise(conn, sid, command, customers, desk, today)
    to_worklist(conn, sid, customers, "sms_text", f"Customer's text: {command.text}")
    return sms.OTHER_TEXT, "on the collector's worklist"


def _promise(conn: Connection, sid: str, command: sms.Command, customers: list[Customer], desk: SmsDesk,
             today: date) -> tuple[str, str]:
    """One customer owing in one currency: the promise is recorded for all that is open. Several customers or
    currencies (which one is promised?) or an unreadable date: the collector confirms it with the customer."""
    if command.problem:
        return f"Sorry, {command.problem}.", "promise date not understood"
    day = command.promised_for.strftime("%d %b %Y")
    owed = open_balances(conn, [c.customer_id for c in customers])
    if len(customers) == 1 and len(owed.get(customers[0].customer_id, {})) == 1:
        [(currency, cents)] = owed[customers[0].customer_id].items()
        try:
            promise = record_promise(conn, customers[0].customer_id, currency, Decimal(cents).scaleb(-2),
                                     command.promised_for, "sms", TAKEN_BY, f"text: {command.text}", today,
                                     desk.promise_grace_days)
        except PromiseRefused as why:
            log.info("SMS promise not recorded: %s", why)
        else:
            return (sms.PROMISE_RECORDED_TEXT.format(amount=sms.money(cents, currency, desk.locale), day=day),
                    f"promise {promise.promise_id} recorded")
    to_worklist(conn, sid, customers, "sms_promise",
                f"Customer texted a promise to pay by {command.promised_for.isoformat()} (which account or "
                f"currency to confirm): {command.text}")
    return sms.PROMISE_PASSED_TEXT.format(day=day), "promise on the collector's worklist to confirm"
