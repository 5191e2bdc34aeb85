"""Sending as Prefect tasks: re-check, reserve in the outbox, hand each message to its provider and record the
outcome, one batch (one SMTP connection, one Twilio client) at a time; escalations as one digest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse
from tasks import warehouse as wh
from tasks.charges.notices import AUTOPAY, render_notice
from tasks.claims import checkpoint
from tasks.contacts.quality import mask, mask_text
from tasks.dunning import outbox
from tasks.dunning.channels import Delivery, EmailSender, ProviderRefusedCredentials, TwilioSender, deliver
from tasks.dunning.delivery import INVOICE
from tasks.dunning.invoice_mail import invoice_email, render_invoice
from tasks.dunning.messages import (
    email_message,
    escalation_message,
    render,
    render_escalations,
    smtp_address,
    twiml,
)
from tasks.dunning.plan import (
    Batch,
    PlannedMessage,
    changed_since_planning,
)
from tasks.promises.notices import PROMISE_CHANNEL, render_promise_notice

# Emails other than reminders: how each is rendered and put together.
EMAIL_KINDS = {INVOICE: (render_invoice, invoice_email), AUTOPAY: (render_notice, email_message),
               PROMISE_CHANNEL: (render_promise_notice, email_message)}


@dataclass
class BatchResult:
    outcomes: Counter = field(default_factory=Counter)  # (bucket, channel, status) -> messages
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (outbox key, masked recipients, reason)
    owed: list[tuple[str, str, str]] = field(default_factory=list)  # the same, refused for now: sent next run
    calls: list[PlannedMessage] = field(default_factory=list)
    sent: list[tuple[str, str, str, str]] = field(default_factory=list)  # (key, channel, masked to, subject)


@task(name="send-dunning-batch", task_run_name="send-{batch.bucket}-batch-{batch.number}", cache_policy=NO_CACHE)
def send_batch(batch: Batch, store: ArWarehouse, company: CompanyProfile, policy: DunningPolicy,
               email: EmailChannel | None, email_name: str, twilio: TwilioChannel | None, twilio_name: str,
               run_id: str) -> BatchResult:
    """Re-check, reserve, send and record one batch: one SMTP connection and one Twilio client for all of it."""
    logger = get_run_logger()
    result = BatchResult()
    engine = store.engine()
    owned, cancelled = _claim(engine, batch.messages, run_id, policy, result)
    checkpoint("reserved")
    mailer = EmailSender(email, email_name) if email else None
    phone = TwilioSender(twilio, twilio_name) if twilio else None
    handover = engine.connect()
    try:
        for index, m in enumerate(owned):
            try:
                _send_one(m, engine, handover, company, policy, email, mailer, phone, result)
            except Exception as error:
                # What has not gone out is planned again next run. Refused credentials mean the provider took
                # nothing; after any other error the message in flight stays "sending" to be reconciled.
                with engine.begin() as conn:
                    outbox.release(conn, [o.key for o in owned[index:]],
                                   only_reserved=not isinstance(error, ProviderRefusedCredentials))
                raise
    finally:
        if mailer:
            mailer.close()
        handover.close()
        engine.dispose()
    sent = sum(n for (_, _, status), n in result.outcomes.items() if status == "sent")
    logger.info("Bucket %s batch %d: %d messages, %d sent, %d cancelled since planning, %d failed", batch.bucket,
                batch.number, len(batch.messages), sent, len(cancelled), len(result.failures))
    return result


def _claim(engine, messages: list[PlannedMessage], run_id: str, policy: DunningPolicy,
           result: BatchResult) -> tuple[list[PlannedMessage], list]:
    """Re-read the messages' invoices, cancel what a payment or dispute overtook, and reserve the rest; returns
    the messages this run now owns, and the cancelled ones."""
    with engine.begin() as conn:
        current = _current_invoices(conn, [i.invoice_number for m in messages for i in m.invoices])
        live, cancelled = [], []
        for m in messages:
            reason = changed_since_planning(m, current, m.planned_on)
            if reason:
                cancelled.append((m, reason))
            else:
                live.append(m)
        _record_cancellations(conn, run_id, cancelled)
        owned = outbox.reserve(conn, live, run_id, policy.reservation_lease_seconds)
    for m, _ in cancelled:
        result.outcomes[(m.bucket, m.channel, "cancelled")] += 1
    owned_keys = {m.key for m in owned}
    for m in live:
        if m.key not in owned_keys:
            result.outcomes[(m.bucket, m.channel, "already sent")] += 1
    return owned, cancelled


@task(name="send-escalations", cache_policy=NO_CACHE)
def send_escalations(escalations: Batch, store: ArWarehouse, company: CompanyProfile,
                     policy: DunningPolicy, email: EmailChannel, email_name: str, run_id: str) -> BatchResult:
    """One digest to the AR manager for every account that reached an escalating step today; each account keeps
    its own outbox row, all of them handed over and completed together."""
    result = BatchResult()
    engine = store.engine()
    owned, _ = _claim(engine, escalations.messages, run_id, policy, result)
    if not owned:
        return result
    rendered = render_escalations(owned, company, policy)
    mail = escalation_message(owned, rendered, email.from_address, email.from_name or company.sender_name, policy,
                              datetime.now().astimezone())
    mailer = EmailSender(email, email_name)
    keys = [m.key for m in owned]
    handover = engine.connect()
    try:
        mailer.ready(policy.max_attempts, policy.retry_backoff_seconds)
        mark = partial(outbox.mark_sending, handover, keys, rendered.subject, policy.reservation_lease_seconds)
        delivery = deliver(lambda: mailer.send(mail, email.from_address, policy.escalation_to, mark),
                           policy.max_attempts, policy.retry_backoff_seconds,
                           refused=partial(outbox.refused, handover, keys))
    except Exception as error:
        with engine.begin() as conn:
            outbox.release(conn, keys, only_reserved=not isinstance(error, ProviderRefusedCredentials))
        raise
    finally:
        mailer.close()
        handover.close()
    if delivery.status == "sent":
        checkpoint("provider-accepted")
    with engine.begin() as conn:
        for key in keys:
            outbox.complete(conn, key, delivery.status, delivery.attempts, delivery.provider_id, delivery.reason)
    engine.dispose()
    to = "; ".join(mask(a) for a in policy.escalation_to)
    for m in owned:
        result.outcomes[(m.bucket, "escalation", delivery.status)] += 1
    if delivery.status == "sent":
        result.sent.extend((key, "escalation", to, rendered.subject) for key in keys)
    else:
        _unsent(result, delivery).extend((key, to, mask_text(delivery.reason or "")) for key in keys)
    return result


def _send_one(m: PlannedMessage, engine, handover, company: CompanyProfile, policy: DunningPolicy,
              email: EmailChannel | None, mailer: EmailSender | None, phone: TwilioSender | None,
              result: BatchResult) -> None:
    to = "; ".join(mask(r.address) for r in m.recipients)
    if m.channel == "call":  # goes on the collector's call list, written by the summary task
        with engine.begin() as conn:
            outbox.complete(conn, m.key, "sent", 1, "call list")
        result.calls.append(m)
        result.outcomes[(m.bucket, "call", "sent")] += 1
        return
    sender_address = email.from_address if email else None
    # A delivered invoice carries its PDF; an autopay notice has merge fields of its own.
    render_as, compose = EMAIL_KINDS.get(m.channel, (render, email_message))
    rendered = render_as(m, company, policy, sender_address)

    def mark() -> None:  # an SMS's whole text: after a crash it is how Twilio's copy is told from another's
        outbox.mark_sending(handover, [m.key], rendered.subject or rendered.text, policy.reservation_lease_seconds)

    if m.channel in ("email", *EMAIL_KINDS):
        mail = compose(
            m, rendered, email.from_address, email.from_name or company.sender_name, email.reply_to, policy,
            datetime.now().astimezone())
        recipients = [smtp_address(r.address) for r in m.recipients]
        send = lambda: mailer.send(mail, email.from_address, recipients, mark)  # noqa: E731
    elif m.channel == "sms":  # marked "sending" per attempt: Twilio can be asked afterwards whether it has it
        send = lambda: mark() or phone.sms(m.recipients[0].address, rendered.text, m.key)  # noqa: E731
    elif m.channel == "voice":
        spoken = twiml(rendered.text, phone.channel.voice, phone.channel.voice_language)
        send = lambda: mark() or phone.voice(m.recipients[0].address, spoken, m.key)  # noqa: E731
    else:
        raise ValueError(f"a send batch cannot send {m.channel} messages (escalations go out as one digest)")
    if m.channel in ("email", *EMAIL_KINDS):
        # Connect first: a refused login or a relay that is down provably sent nothing. The message is marked
        # "sending" by the SMTP transaction itself, just before DATA ends.
        mailer.ready(policy.max_attempts, policy.retry_backoff_seconds)
    checkpoint("before-send")
    delivery: Delivery = deliver(send, policy.max_attempts, policy.retry_backoff_seconds,
                                 refused=partial(outbox.refused, handover, [m.key]))
    if delivery.status == "sent":
        checkpoint("provider-accepted")
    with engine.begin() as conn:
        outbox.complete(conn, m.key, delivery.status, delivery.attempts, delivery.provider_id, delivery.reason)
        if delivery.opted_out:
            conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                                 "VALUES (:c, :a, :r, :t) ON CONFLICT (channel, address) DO NOTHING"),
                         {"c": m.channel, "a": m.recipients[0].address, "r": delivery.reason, "t": wh.utcnow()})
    checkpoint("completed")
    result.outcomes[(m.bucket, m.channel, delivery.status)] += 1
    if delivery.status == "sent":
        result.sent.append((m.key, m.channel, to, rendered.subject or rendered.text))
    else:
        _unsent(result, delivery).append((m.key, to, mask_text(delivery.reason or "")))


def _unsent(result: BatchResult, delivery: Delivery) -> list[tuple[str, str, str]]:
    """Where a message that did not go out is listed: still owed, or failed / of unknown outcome."""
    return result.owed if delivery.status == "owed" else result.failures


def _current_invoices(conn, numbers: list[str]) -> dict[str, tuple]:
    current = {}
    unique = sorted(set(numbers))
    for start in range(0, len(unique), wh.IN_CHUNK):
        chunk = {f"n{i}": n for i, n in enumerate(unique[start:start + wh.IN_CHUNK])}
        sql = ("SELECT i.invoice_number, i.status, i.open_cents, h.disputed = 1, i.promise_to_pay_date FROM invoices i "
               "JOIN invoice_dispute_holds h ON h.invoice_number = i.invoice_number "
               f"WHERE i.invoice_number IN ({', '.join(':' + k for k in chunk)})")
        for row in conn.execute(sa.text(sql), chunk):
            current[row[0]] = tuple(row[1:])
    return current


def _record_cancellations(conn, run_id: str, cancelled: list[tuple[PlannedMessage, str]]) -> None:
    if not cancelled:
        return
    rows = pd.DataFrame([{"run_id": run_id, "planned_on": m.planned_on, "customer_id": m.customer_id,
                          "currency": m.currency, "step": m.step, "channel": m.channel, "bucket": m.bucket,
                          "reason": reason, "detail": "found when re-checking just before sending"}
                         for m, reason in cancelled])
    wh.insert(conn, "dunning_skips", rows)


