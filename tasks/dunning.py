"""The dunning stage as Prefect tasks: age, reconcile the outbox, plan, send batches, publish what happened.

The rules are in tasks/aging.py and tasks/dunning_plan.py; this module reads and writes the warehouse, calls
the providers and leaves the artifacts a controller reads in the morning.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.ledger import project_path
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse
from tasks import outbox
from tasks import warehouse as wh
from tasks.aging import AgingSummary, age_invoices, aging_summary, bucket_labels
from tasks.contact_quality import mask, mask_text
from tasks.dunning_channels import Delivery, EmailSender, ProviderRefusedCredentials, TwilioSender, deliver
from tasks.dunning_messages import (
    email_message,
    escalation_message,
    render,
    render_escalations,
    smtp_address,
    twiml,
)
from tasks.dunning_outbox_reconcile import Reconciliation
from tasks.dunning_plan import (
    Batch,
    DunningPlan,
    PlannedMessage,
    changed_since_planning,
    plan_dunning,
)
from tasks.money import money
from tasks.output_files import slug

CALL_LIST_ARTIFACT_ROWS = 200
PLAN_ARTIFACT_ROWS = 500



@dataclass
class DunningState:
    invoices: pd.DataFrame  # open invoices, aged, with dispute / promise flags
    customers: pd.DataFrame
    contacts: pd.DataFrame
    aging: AgingSummary


@task(name="age-open-invoices", cache_policy=NO_CACHE)
def age_open_invoices(store: ArWarehouse, company: CompanyProfile, as_of: date) -> DunningState:
    """Age every open invoice by the company's calendar and publish the aging summary (per currency and bucket,
    reconciled to open AR to the cent)."""
    engine = store.engine()
    with engine.connect() as conn:
        invoices = wh.query_frame(conn, wh.named_query("dunning", "open_invoices"))
        customers = wh.query_frame(conn, wh.named_query("dunning", "customers"))
        contacts = wh.query_frame(conn, wh.named_query("dunning", "contacts"))
    engine.dispose()
    aged = age_invoices(invoices, as_of, company.aging_buckets)
    aged["disputed"] = invoices["disputed"].to_numpy()
    aged["promise_to_pay_date"] = invoices["promise_to_pay_date"].to_numpy()
    summary = aging_summary(aged, company.aging_buckets)
    _publish_aging(summary, company, as_of)
    return DunningState(aged, _plain(customers), _plain(contacts), summary)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Python values with None for NULL: the planner reads rows one by one."""
    return frame.astype(object).where(frame.notna(), None)


def _publish_aging(summary: AgingSummary, company: CompanyProfile, as_of: date) -> None:
    rows = [{"Currency": r.currency, "Bucket": r.bucket, "Invoices": f"{r.invoices:,}", "Customers": f"{r.customers:,}",
             "Open amount": money(r.open_cents, r.currency, company.locale)} for r in summary.rows.itertuples()]
    totals = ", ".join(money(cents, c, company.locale) for c, cents in summary.open_ar.items()) or "nothing open"
    state = "reconciles to open AR to the cent" if summary.reconciles else "DOES NOT reconcile to open AR"
    create_table_artifact(rows, key="aging-summary",
                          description=f"Aging on {as_of} ({company.time_zone} calendar): open AR {totals}; "
                                      f"the buckets {state}.")


@task(name="plan-dunning", cache_policy=NO_CACHE)
def plan_day(store: ArWarehouse, state: DunningState, policy: DunningPolicy, company: CompanyProfile,
             now: datetime, run_id: str, dry_run: bool) -> DunningPlan:
    """Plan the day, record every skip with its reason, and publish the plan."""
    engine = store.engine()
    with engine.begin() as conn:
        history = outbox.send_history(conn, company.today(now), policy.cap_days)
        plan = plan_dunning(state.invoices, state.customers, state.contacts, history, policy, company, now)
        _record_skips(conn, run_id, plan.planned_on, plan.skips)
    engine.dispose()
    _publish_plan(plan, company, dry_run)
    outbox.checkpoint("planned")
    return plan


def _record_skips(conn, run_id: str, day: date, skips: pd.DataFrame) -> None:
    if skips.empty:
        return
    rows = skips[["customer_id", "currency", "step", "channel", "bucket", "reason", "detail"]].copy()
    rows.insert(0, "planned_on", day)
    rows.insert(0, "run_id", run_id)
    wh.insert(conn, "dunning_skips", rows)


def _publish_plan(plan: DunningPlan, company: CompanyProfile, dry_run: bool) -> None:
    planned = Counter((m.bucket, m.channel) for m in plan.messages)
    lines = [f"# Dunning plan for {plan.planned_on}" + (" (dry run: nothing was sent)" if dry_run else ""), "",
             f"{len(plan.messages):,} messages to send, {len(plan.skips):,} held back.", "",
             "| bucket | channel | to send |", "| --- | --- | ---: |"]
    lines += [f"| {b} | {c} | {n:,} |" for (b, c), n in sorted(planned.items())]
    lines += ["", "## Held back, by reason", "", "| reason | channel | messages | amount |",
              "| --- | --- | ---: | --- |"]
    if not plan.skips.empty:
        for (reason, channel), group in plan.skips.groupby(["reason", "channel"]):
            amounts = group.groupby("currency")["amount_cents"].sum()
            shown = ", ".join(money(int(v), c, company.locale) for c, v in amounts.items())
            lines.append(f"| {reason} | {channel} | {len(group):,} | {shown} |")
    lines += ["", f"Message by message (the most urgent {PLAN_ARTIFACT_ROWS} of each): artifacts "
              "`dunning-plan-messages` and `dunning-plan-held-back`; every skip is in the warehouse table "
              "`dunning_skips`."]
    create_markdown_artifact("\n".join(lines), key="dunning-plan", description="What dunning sends today, and why not")
    urgent = sorted(plan.messages, key=lambda m: -m.amount_cents * max(m.days_past_due, 1))[:PLAN_ARTIFACT_ROWS]
    create_table_artifact([{
        "Customer": f"{m.customer_name} ({m.customer_id})", "Channel": m.channel, "Step": m.step, "Tone": m.tone,
        "Bucket": m.bucket, "Open": money(m.amount_cents, m.currency, company.locale), "Invoices": len(m.invoices),
        "Days past due": m.days_past_due, "To (masked)": "; ".join(mask(r.address) for r in m.recipients)}
        for m in urgent], key="dunning-plan-messages",
        description=f"Messages planned for {plan.planned_on}, most urgent first ({len(urgent):,} of "
                    f"{len(plan.messages):,})")
    held = plan.skips.assign(priority=plan.skips["amount_cents"] * plan.skips["days_past_due"].clip(lower=1))
    held = held.sort_values("priority", ascending=False).head(PLAN_ARTIFACT_ROWS)
    create_table_artifact([{
        "Customer": r.customer_id, "Channel": r.channel, "Step": int(r.step), "Bucket": r.bucket,
        "Why held back": r.reason, "Detail": mask_text(r.detail or ""),
        "Open": money(int(r.amount_cents), r.currency, company.locale)} for r in held.itertuples()],
        key="dunning-plan-held-back",
        description=f"Messages held back on {plan.planned_on}, most urgent first ({len(held):,} of "
                    f"{len(plan.skips):,}); all of them: warehouse table dunning_skips")


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
    outbox.checkpoint("reserved")
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
def send_escalations(messages: list[PlannedMessage], store: ArWarehouse, company: CompanyProfile,
                     policy: DunningPolicy, email: EmailChannel, email_name: str, run_id: str) -> BatchResult:
    """One digest to the AR manager for every account that reached an escalating step today; each account keeps
    its own outbox row, all of them handed over and completed together."""
    result = BatchResult()
    engine = store.engine()
    owned, _ = _claim(engine, messages, run_id, policy, result)
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
        outbox.checkpoint("provider-accepted")
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
    rendered = render(m, company, policy, sender_address)

    def mark() -> None:  # an SMS's whole text: after a crash it is how Twilio's copy is told from another's
        outbox.mark_sending(handover, [m.key], rendered.subject or rendered.text, policy.reservation_lease_seconds)

    if m.channel == "email":
        mail = email_message(m, rendered, email.from_address, email.from_name or company.sender_name, email.reply_to,
                             policy, datetime.now().astimezone())
        recipients = [smtp_address(r.address) for r in m.recipients]
        send = lambda: mailer.send(mail, email.from_address, recipients, mark)  # noqa: E731
    elif m.channel == "sms":  # marked "sending" per attempt: Twilio can be asked afterwards whether it has it
        send = lambda: mark() or phone.sms(m.recipients[0].address, rendered.text)  # noqa: E731
    elif m.channel == "voice":
        spoken = twiml(rendered.text, phone.channel.voice, phone.channel.voice_language)
        send = lambda: mark() or phone.voice(m.recipients[0].address, spoken)  # noqa: E731
    else:
        raise ValueError(f"a send batch cannot send {m.channel} messages (escalations go out as one digest)")
    if m.channel == "email":
        # Connect first: a refused login or a relay that is down provably sent nothing. The message is marked
        # "sending" by the SMTP transaction itself, just before DATA ends.
        mailer.ready(policy.max_attempts, policy.retry_backoff_seconds)
    outbox.checkpoint("before-send")
    delivery: Delivery = deliver(send, policy.max_attempts, policy.retry_backoff_seconds,
                                 refused=partial(outbox.refused, handover, [m.key]))
    if delivery.status == "sent":
        outbox.checkpoint("provider-accepted")
    with engine.begin() as conn:
        outbox.complete(conn, m.key, delivery.status, delivery.attempts, delivery.provider_id, delivery.reason)
        if delivery.opted_out:
            conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) "
                                 "VALUES (:c, :a, :r, :t) ON CONFLICT (channel, address) DO NOTHING"),
                         {"c": m.channel, "a": m.recipients[0].address, "r": delivery.reason, "t": wh.utcnow()})
    outbox.checkpoint("completed")
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
        sql = ("SELECT invoice_number, status, open_cents, disputed, promise_to_pay_date FROM invoices "
               f"WHERE invoice_number IN ({', '.join(':' + k for k in chunk)})")
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


@dataclass
class DunningSummary:
    planned_on: date
    planned: int
    skipped: pd.DataFrame  # the plan's skips
    outcomes: pd.DataFrame  # bucket, channel, status, messages
    failures: list[tuple[str, str, str]]
    owed: list[tuple[str, str, str]]  # refused for now by the provider: still owed, sent on the next run
    reconciliation: Reconciliation
    call_lists: Path | None
    message_log: Path | None

    def count(self, status: str, channel: str | None = None) -> int:
        rows = self.outcomes[self.outcomes["status"] == status]
        return int(rows[rows["channel"] == channel]["messages"].sum() if channel else rows["messages"].sum())


@task(name="dunning-summary", cache_policy=NO_CACHE)
def publish_dunning(plan: DunningPlan, results: list[BatchResult], reconciliation: Reconciliation,
                    policy: DunningPolicy, company: CompanyProfile, sent_to: str) -> DunningSummary:
    """The morning view: per bucket what was sent, failed, cancelled and held back; call lists; message log."""
    outcomes = pd.DataFrame([(*key, n) for r in results for key, n in r.outcomes.items()],
                            columns=["bucket", "channel", "status", "messages"])
    outcomes = outcomes.groupby(["bucket", "channel", "status"], as_index=False)["messages"].sum()
    folder = project_path(policy.output_dir) / plan.planned_on.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    failures = [f for r in results for f in r.failures]
    calls = [m for r in results for m in r.calls]
    call_lists = _write_call_lists(calls, folder / "call-lists", company)
    log = folder / "messages.csv"
    with log.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Outbox key", "Channel", "Status", "Recipients (masked)", "Subject or text"])
        for r in results:
            writer.writerows((key, channel, "sent", to, subject) for key, channel, to, subject in r.sent)
            writer.writerows((key, key.rsplit("|", 1)[1], "failed", to, reason) for key, to, reason in r.failures)
            writer.writerows((key, key.rsplit("|", 1)[1], "owed", to, reason) for key, to, reason in r.owed)
    summary = DunningSummary(plan.planned_on, len(plan.messages), plan.skips, outcomes, failures,
                             [o for r in results for o in r.owed], reconciliation, call_lists, log)
    create_markdown_artifact(_results_markdown(summary, company, sent_to), key="dunning-results",
                             description=f"Dunning on {plan.planned_on}: sent, failed, cancelled, held back")
    return summary


def _write_call_lists(calls: list[PlannedMessage], folder: Path, company: CompanyProfile) -> Path | None:
    """Per collector, most urgent first (open amount x days past due, within each currency): CSV with the
    number to dial, artifact with it masked."""
    if not calls:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    rows = pd.DataFrame([{
        "Collector": m.collector or "unassigned", "Customer": m.customer_name, "Customer id": m.customer_id,
        "Contact": m.recipients[0].name or "", "Phone": m.recipients[0].address or "no usable phone: see worklist",
        "Currency": m.currency, "Open": money(m.amount_cents, m.currency, company.locale),
        "Invoices": len(m.invoices), "Days past due": m.days_past_due, "Step": m.step,
        "priority": m.amount_cents * max(m.days_past_due, 1)} for m in calls])
    for collector, mine in rows.groupby("Collector"):
        mine = mine.sort_values(["Currency", "priority"], ascending=[True, False]).drop(columns="priority")
        mine.to_csv(folder / f"{slug(collector)}.csv", index=False)
        shown = mine.head(CALL_LIST_ARTIFACT_ROWS).assign(Phone=mine["Phone"].map(mask)).astype(str)
        create_table_artifact(shown.to_dict("records"), key=f"call-list-{slug(collector)}",
                              description=f"{collector}: {len(mine)} customers to call today, most urgent first "
                                          f"(full list with numbers: {folder / (slug(collector) + '.csv')})")
    return folder


def _results_markdown(s: DunningSummary, company: CompanyProfile, sent_to: str) -> str:
    lines = [f"# Dunning on {s.planned_on}", "",
             f"{s.planned:,} messages planned: {s.count('sent'):,} sent, {s.count('failed'):,} failed, "
             f"{s.count('owed'):,} still owed (refused for now by the provider: sent again on the next run), "
             f"{s.count('cancelled'):,} cancelled (paid or disputed since planning), {s.count('already sent'):,} "
             f"already sent by an earlier run. {len(s.skipped):,} held back by the plan.", "",
             "| bucket | channel | sent | failed | owed | unknown | cancelled | already sent |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    if not s.outcomes.empty:
        table = s.outcomes.pivot_table(index=["bucket", "channel"], columns="status", values="messages",
                                       aggfunc="sum", fill_value=0)
        order = bucket_order(company)
        rows = sorted(table.iterrows(), key=lambda item: (_rank(order, item[0][0]), item[0][1]))
        for (bucket, channel), row in rows:
            cells = " | ".join(f"{int(row.get(c, 0)):,}" for c in ("sent", "failed", "owed", "unknown",
                                                                    "cancelled", "already sent"))
            lines.append(f"| {bucket} | {channel} | {cells} |")
    lines += ["", "## Held back by the plan", "", "| bucket | reason | messages |", "| --- | --- | ---: |"]
    if not s.skipped.empty:
        counts = s.skipped.groupby(["bucket", "reason"]).size().items()
        for (bucket, reason), n in sorted(counts, key=lambda item: (_rank(bucket_order(company), item[0][0]),
                                                                     -item[1])):
            lines.append(f"| {bucket} | {reason} | {n:,} |")
    r = s.reconciliation
    if r.released or r.confirmed or r.resent or r.unknown:
        lines += ["", "## Left by a stopped run", "",
                  f"{r.released} reservations released and planned again; {r.confirmed} confirmed with Twilio; "
                  f"{r.resent} not found at Twilio and planned again; {len(r.unknown)} of unknown outcome."]
        if r.unknown:
            lines += ["", "Unknown outcome: the run stopped after handing these to the relay (emails) or while "
                      "Twilio had something to the same number that may be them (texts, calls). They count as sent "
                      "and are not resent; to be sure, search the relay's log for the outbox key (header "
                      "X-Arpilot-Reference) or Twilio's log for the number:", ""]
            lines += [f"- `{key}`" for key in r.unknown[:50]]
    if s.failures:
        lines += ["", "## Failed or of unknown outcome (not retried)", "", "| outbox key | recipients | reason |",
                  "| --- | --- | --- |"]
        lines += [f"| `{k}` | {to} | {reason} |" for k, to, reason in s.failures[:100]]
    if s.owed:
        lines += ["", "## Still owed: refused for now by the provider, sent again on the next run", "",
                  "| outbox key | recipients | provider's last reason |", "| --- | --- | --- |"]
        lines += [f"| `{k}` | {to} | {reason} |" for k, to, reason in s.owed[:100]]
    lines += ["", f"Messages went to {sent_to}. Message log: `{s.message_log}`"]
    if s.call_lists:
        lines.append(f"Call lists per collector (CSV, with numbers): `{s.call_lists}`")
    return "\n".join(lines)


def bucket_order(company: CompanyProfile) -> list[str]:
    return bucket_labels(company.aging_buckets)


def _rank(order: list[str], bucket: str) -> int:
    """Position of a bucket in aging order, so tables read not_due, 1-30, ... rather than alphabetically."""
    return order.index(bucket) if bucket in order else len(order)
