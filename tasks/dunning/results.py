"""What a dunning run did, for the controller's morning: per bucket and channel what was sent, failed, is still
owed or was held back, the collectors' call lists and a message log."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.ledger import project_path
from blocks.runbook import runbook
from reports.formats import money
from tasks.aging import bucket_labels
from tasks.contacts.quality import mask, mask_text
from tasks.dunning.delivery import INVOICE, DeliveryPlan
from tasks.dunning.plan import (
    DunningPlan,
    PlannedMessage,
)
from tasks.dunning.reconcile import Reconciliation
from tasks.dunning.sending import BatchResult
from tasks.output_files import slug
from tasks.promises.notices import PromiseNotice

CALL_LIST_ARTIFACT_ROWS = 200


@dataclass
class DunningSummary:
    planned_on: date
    planned: int
    skipped: pd.DataFrame  # the plan's skips, and the invoices not delivered (channel invoice)
    outcomes: pd.DataFrame  # bucket, channel, status, messages
    failures: list[tuple[str, str, str]]
    owed: list[tuple[str, str, str]]  # refused for now by the provider: still owed, sent on the next run
    reconciliation: Reconciliation
    call_lists: Path | None
    message_log: Path | None
    deliveries: DeliveryPlan  # invoices delivered when issued: what was planned, and what is still unsent

    @property
    def invoices_unsent(self) -> int:
        """Invoices issued since delivery was switched on and not delivered: held back by the plan, or planned
        and not sent tonight (failed, still owed, cancelled)."""
        sent = self.count("sent", INVOICE) + self.count("unknown", INVOICE) + self.count("already sent", INVOICE)
        return len(self.deliveries.unsent) + len(self.deliveries.messages) - sent

    def count(self, status: str, channel: str | None = None) -> int:
        rows = self.outcomes[self.outcomes["status"] == status]
        return int(rows[rows["channel"] == channel]["messages"].sum() if channel else rows["messages"].sum())


@task(name="dunning-summary", cache_policy=NO_CACHE)
def publish_dunning(plan: DunningPlan, results: list[BatchResult], reconciliation: Reconciliation,
                    policy: DunningPolicy, company: CompanyProfile, sent_to: str,
                    deliveries: DeliveryPlan, notices: DunningPlan) -> DunningSummary:
    """The morning view: per bucket what was sent, failed, cancelled and held back (reminders, delivered invoices and
    autopay notices); call lists; message log."""
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
    held = [f for f in (plan.skips, deliveries.skips, notices.skips) if len(f)]
    summary = DunningSummary(plan.planned_on, len(plan.messages) + len(deliveries.messages) + len(notices.messages),
                             pd.concat(held, ignore_index=True) if held else plan.skips, outcomes, failures,
                             [o for r in results for o in r.owed], reconciliation, call_lists, log, deliveries)
    _write_unsent_invoices(deliveries, folder / "invoices-unsent.csv", company)
    create_markdown_artifact(_results_markdown(summary, company, sent_to), key="dunning-results",
                             description=f"Dunning on {plan.planned_on}: sent, failed, cancelled, held back")
    return summary


def _write_unsent_invoices(deliveries: DeliveryPlan, path: Path, company: CompanyProfile) -> None:
    """The invoices still unsent, per collector, for them to send by hand or fix what holds them."""
    if deliveries.unsent.empty:
        return
    rows = deliveries.unsent.sort_values(["collector", "customer_id", "invoice_number"], na_position="first")
    pd.DataFrame({
        "Collector": rows["collector"].fillna("unassigned"), "Customer": rows["customer_name"],
        "Customer id": rows["customer_id"], "Invoice": rows["invoice_number"], "Issued": rows["issue_date"],
        "Open": [money(int(c), cur, company.locale) for c, cur in zip(rows["open_cents"], rows["currency"],
                                                                       strict=True)],
        "Why unsent": rows["reason"], "Detail": rows["detail"].map(mask_text)}).to_csv(path, index=False)


def _write_call_lists(calls: list[PlannedMessage], folder: Path, company: CompanyProfile) -> Path | None:
    """Per collector, broken promises to pay first, then customers on credit hold, then most urgent first (open
    amount x days past due, within each currency): CSV with the number to dial, artifact with it masked; the customer and contact ids are what
    `arpilot call start` takes."""
    if not calls:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    rows = pd.DataFrame([{
        "Collector": m.collector or "unassigned", "Customer": m.customer_name, "Customer id": m.customer_id,
        "Contact": m.recipients[0].name or "", "Contact id": m.recipients[0].contact_id or "",
        "Phone": m.recipients[0].address or "no usable phone: see worklist",
        "Currency": m.currency, "Open": money(m.amount_cents, m.currency, company.locale),
        "Invoices": len(m.invoices), "Days past due": m.days_past_due, "Step": m.step,
        "Why": m.call_note if isinstance(m, PromiseNotice) else "credit hold" if m.credit_hold else "",
        "first": isinstance(m, PromiseNotice), "hold": m.credit_hold,
        "priority": m.amount_cents * max(m.days_past_due, 1)} for m in calls])
    for collector, mine in rows.groupby("Collector"):
        mine = mine.sort_values(["first", "hold", "Currency", "priority"], ascending=[False, False, True, False]).drop(
            columns=["first", "hold", "priority"])
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
                      "X-Arpilot-Reference) or Twilio's log for the number "
                      f"({runbook('unknown-emails')}):", ""]
            lines += [f"- `{key}`" for key in r.unknown[:50]]
    if s.failures:
        lines += ["", "## Failed or of unknown outcome (not retried)", "", "| outbox key | recipients | reason |",
                  "| --- | --- | --- |"]
        lines += [f"| `{k}` | {to} | {reason} |" for k, to, reason in s.failures[:100]]
    if s.owed:
        lines += ["", "## Still owed: refused for now by the provider, sent again on the next run", "",
                  "| outbox key | recipients | provider's last reason |", "| --- | --- | --- |"]
        lines += [f"| `{k}` | {to} | {reason} |" for k, to, reason in s.owed[:100]]
    d = s.deliveries
    if d.since:
        lines += ["", "## Invoices delivered when issued", "",
                  f"Open invoices issued since {d.since}: {s.count('sent', INVOICE):,} delivered tonight, "
                  f"{d.delivered_before:,} by an earlier run, {s.invoices_unsent:,} still unsent (the channel "
                  "`invoice` rows above; held back: artifact `invoice-delivery-unsent`)."]
    lines += ["", f"Messages went to {sent_to}. Message log: `{s.message_log}`"]
    if s.call_lists:
        lines.append(f"Call lists per collector (CSV, with numbers): `{s.call_lists}`")
    return "\n".join(lines)


def bucket_order(company: CompanyProfile) -> list[str]:
    return bucket_labels(company.aging_buckets)


def _rank(order: list[str], bucket: str) -> int:
    """Position of a bucket in aging order, so tables read not_due, 1-30, ... rather than alphabetically."""
    return order.index(bucket) if bucket in order else len(order)
