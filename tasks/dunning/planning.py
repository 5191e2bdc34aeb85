"""Aging and planning as Prefect tasks: age the open invoices by the company calendar, plan the day, record every
message held back and why, and publish both for the controller. The rules are in tasks/aging.py and
tasks/dunning/plan.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.warehouse import ArWarehouse
from reports.formats import money
from tasks import warehouse as wh
from tasks.aging import AgingSummary, age_invoices, aging_summary
from tasks.charges.notices import notice_since, plan_notices
from tasks.claims import checkpoint
from tasks.contacts.quality import mask, mask_text
from tasks.dunning import outbox
from tasks.dunning.delivery import DeliveryPlan, plan_deliveries
from tasks.dunning.invoice_mail import erp_pdf_problem
from tasks.dunning.plan import (
    DunningPlan,
    plan_dunning,
)
from tasks.promises.notices import plan_promise_notices
from tasks.promises.rules import ANNOUNCE_DAYS

PLAN_ARTIFACT_ROWS = 500


@dataclass
class DunningState:
    invoices: pd.DataFrame  # open invoices, aged, with dispute / promise flags
    customers: pd.DataFrame
    contacts: pd.DataFrame
    aging: AgingSummary


# What, besides its age, decides whether an invoice may be dunned (see plan.hold_reasons).
HOLD_COLUMNS = ("disputed", "promise_to_pay_date", "charge_status", "charge_failure", "charge_retry_on", "charge_day",
                "charge_notice", "on_autopay", "sales_hold_until")


def aged_for_planning(invoices: pd.DataFrame, as_of: date, buckets: list[int]) -> pd.DataFrame:
    """The open invoices (sql/dunning/open_invoices.sql) aged, with what else the planner reads about each."""
    aged = age_invoices(invoices, as_of, buckets)
    for hold in HOLD_COLUMNS:
        aged[hold] = invoices[hold].to_numpy()
    # The planner compares it row by row: None, never pandas' NA, where the rep softened nothing.
    aged["sales_softened_step"] = wh.plain(invoices[["sales_softened_step"]])["sales_softened_step"].to_numpy()
    return aged


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
    aged = aged_for_planning(invoices, as_of, company.aging_buckets)
    summary = aging_summary(aged, company.aging_buckets)
    _publish_aging(summary, company, as_of)
    return DunningState(aged, wh.plain(customers), wh.plain(contacts), summary)


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
    checkpoint("planned")
    return plan


@task(name="plan-invoice-delivery", cache_policy=NO_CACHE)
def plan_invoice_delivery(store: ArWarehouse, state: DunningState, policy: DunningPolicy, company: CompanyProfile,
                          now: datetime, run_id: str, dry_run: bool) -> DeliveryPlan:
    """Plan today's invoice deliveries (tasks/dunning/delivery.py), record every invoice still unsent with its
    reason beside the reminders held back, and publish the count."""
    if policy.deliver_invoices_from is None:
        return DeliveryPlan(company.today(now), None)
    engine = store.engine()
    with engine.begin() as conn:
        invoices = wh.query_frame(conn, wh.named_query("dunning", "invoices_to_deliver"),
                                  {"since": policy.deliver_invoices_from})
        invoices = wh.plain(invoices)
        invoices["pdf_problem"] = [erp_pdf_problem(p, policy.invoice_pdf_dir) for p in invoices["pdf_path"]]
        plan = plan_deliveries(invoices, state.contacts, policy, company, now)
        _record_skips(conn, run_id, plan.planned_on, plan.skips)
    engine.dispose()
    _publish_deliveries(plan, company, dry_run)
    return plan


@task(name="plan-autopay-notices", cache_policy=NO_CACHE)
def plan_autopay_notices(store: ArWarehouse, state: DunningState, policy: DunningPolicy, company: CompanyProfile,
                         now: datetime, run_id: str) -> DunningPlan:
    """Tell customers whose autopay charge was declined or needs them (tasks/charges/notices.py), and put the
    charges dunning takes over on the collectors' call lists; notices held back are recorded like reminders."""
    engine = store.engine()
    with engine.begin() as conn:
        charges = wh.plain(wh.query_frame(conn, wh.named_query("dunning", "autopay_notices"),
                                        {"since": notice_since(company.today(now))}))
        notices, skips = plan_notices(charges, state.contacts, policy, company, now)
        _record_skips(conn, run_id, company.today(now), skips)
    engine.dispose()
    return DunningPlan(company.today(now), notices, skips)


@task(name="plan-promise-notices", cache_policy=NO_CACHE)
def plan_promise_notices_task(store: ArWarehouse, state: DunningState, policy: DunningPolicy,
                              company: CompanyProfile, now: datetime, run_id: str) -> DunningPlan:
    """Thank customers who kept a promise to pay; write firmly to those who broke one and put them at the top of
    the collector's call list (tasks/promises/notices.py); notices held back are recorded like reminders."""
    today = company.today(now)
    engine = store.engine()
    with engine.begin() as conn:
        promises = wh.plain(wh.query_frame(conn, wh.named_query("dunning", "promise_notices"),
                                         {"since": today - timedelta(days=ANNOUNCE_DAYS)}))
        notices, skips = plan_promise_notices(promises, state.contacts, policy, company, now)
        _record_skips(conn, run_id, today, skips)
    engine.dispose()
    return DunningPlan(today, notices, skips)


def _publish_deliveries(plan: DeliveryPlan, company: CompanyProfile, dry_run: bool) -> None:
    unsent = plan.unsent
    lines = [f"# Invoices delivered when issued, {plan.planned_on}" + (" (dry run: nothing was sent)" if dry_run
                                                                      else ""), "",
             f"Open invoices issued since {plan.since}: {plan.delivered_before:,} delivered by an earlier run, "
             f"{len(plan.messages):,} to deliver now, {len(unsent):,} still unsent.", "",
             "| still unsent because | invoices |", "| --- | ---: |"]
    lines += [f"| {reason} | {n:,} |" for reason, n in unsent["reason"].value_counts().items()]
    create_markdown_artifact("\n".join(lines), key="invoice-delivery",
                             description=f"Invoice delivery on {plan.planned_on}: delivered and still unsent")
    if len(unsent):
        create_table_artifact([{
            "Invoice": r.invoice_number, "Customer": f"{r.customer_name} ({r.customer_id})",
            "Collector": r.collector or "unassigned", "Issued": str(r.issue_date),
            "Open": money(int(r.open_cents), r.currency, company.locale), "Why unsent": r.reason,
            "Detail": mask_text(r.detail or "")} for r in unsent.head(PLAN_ARTIFACT_ROWS).itertuples()],
            key="invoice-delivery-unsent",
            description=f"Invoices not yet delivered on {plan.planned_on}, for the collectors to send or fix "
                        f"({min(len(unsent), PLAN_ARTIFACT_ROWS):,} of {len(unsent):,}; all of them: warehouse table "
                        "dunning_skips, channel invoice)")


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


