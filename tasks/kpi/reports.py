"""KPI reports: read the ledger and the dunning activity, compute the KPIs per scope, write one PDF per
audience, email it, and keep the nightly KPI snapshot that trend lines and dispute history come from."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from multiprocessing import get_context
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.engine import Engine

from blocks.company import CompanyProfile
from blocks.email_channel import EmailChannel
from blocks.ledger import project_path
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from reports.builder import (
    Charts,
    aging_mix_figure,
    collector_figure,
    generated_at,
    period_label,
    render_html,
    target_met,
    trend_figure,
    write_report,
)
from reports.formats import kpi_figure, unknown_notes
from tasks import warehouse as wh
from tasks.aging import bucket_labels
from tasks.contacts.quality import mask
from tasks.dunning.channels import EmailSender, deliver
from tasks.dunning.messages import RenderedMessage, compose_email
from tasks.kpi.disputes import DISPUTE_AGE_BANDS, age_band_labels
from tasks.kpi.maths import CurrencyKpis, Kpis, Ledger, Period, compute_kpis, percent_of
from tasks.kpi.one_pager import OnePager, company_headline, executive_one_pager
from tasks.output_files import slug

PDF_WORKERS = max(1, min(4, os.cpu_count() or 1))
SEND_ATTEMPTS, SEND_BACKOFF_SECONDS = 3, [2, 10]  # per report email, for a relay that is briefly away
ACCOUNT_ROWS = 150  # accounts listed in a sales report, most overdue first; the rest are counted


def _query(conn, name: str, params: dict | None = None) -> pd.DataFrame:
    return wh.query_frame(conn, wh.named_query("reports", name), params)


def read_ledger(engine: Engine, time_zone: str, open_as_of: date | None = None) -> Ledger:
    """Every invoice that is or was owed, what settled it and when, credit notes, customers, the company days the
    syncs saw each dispute open and end (with its reason and level), the promise records, the ledger's exchange rates
    and each customer's latest approved credit change. ``open_as_of``: the day the open amounts are known to be as
    of."""
    names = ("invoices", "settlements", "credit_notes", "customers", "disputes", "promises", "exchange_rates",
             "credit_holds")
    with engine.connect() as conn:
        *frames, disputes, promises, rates, holds = [_query(conn, name) for name in names]
    disputes, promises, rates, holds = (wh.plain(f) for f in (disputes, promises, rates, holds))
    for column in ("opened_at", "closed_at", "level_raised_at"):
        seen = pd.to_datetime(disputes.pop(column), format="ISO8601")
        disputes[column.replace("_at", "_on")] = seen.dt.tz_localize("UTC").dt.tz_convert(time_zone) \
            .dt.tz_localize(None).dt.normalize()
    return Ledger(*frames, open_as_of=open_as_of, disputes=disputes, promises=promises, exchange_rates=rates,
                  credit_holds=holds)


@task(name="load-ledger", cache_policy=NO_CACHE)
def load_ledger(store: ArWarehouse, time_zone: str, open_as_of: date | None = None) -> Ledger:
    engine = store.engine()
    try:
        return read_ledger(engine, time_zone, open_as_of)
    finally:
        engine.dispose()


@dataclass
class Activity:
    """What dunning and the contact checks did in the period."""

    outbox: pd.DataFrame  # customer_id, currency, channel, status, planned_on, reason
    held_back: pd.DataFrame  # customer_id, currency, channel, reason, planned_on: once per message and day
    contact_checks: pd.DataFrame  # check_name, evaluated, failed, checked_on (the period's last run)

    def scoped(self, customers: pd.Series) -> Activity:
        return Activity(self.outbox[self.outbox["customer_id"].isin(customers)],
                        self.held_back[self.held_back["customer_id"].isin(customers)], self.contact_checks)

    def by_channel(self) -> list[dict]:
        """Per channel: messages sent, failed, of unknown outcome, and held back (a call-list entry is a contact
        made by a collector, counted as sent)."""
        sent = self.outbox.groupby(["channel", "status"]).size()
        held = self.held_back.groupby("channel").size()
        channels = sorted(set(self.outbox["channel"]) | set(self.held_back["channel"]))
        return [{"channel": c, "sent": int(sent.get((c, "sent"), 0)), "failed": int(sent.get((c, "failed"), 0)),
                 "unknown": int(sent.get((c, "unknown"), 0)), "held_back": int(held.get(c, 0))} for c in channels]

    def contacts_made(self) -> int:
        """Reminders delivered to customers and call-list entries (escalations are internal, not contacts)."""
        return int(((self.outbox["status"] == "sent") & (self.outbox["channel"] != "escalation")).sum())

    def held_back_reasons(self) -> list[dict]:
        grouped = self.held_back.groupby("reason").agg(messages=("channel", "size"),
                                                       customers=("customer_id", "nunique"))
        return [{"reason": r.Index.replace("_", " "), "messages": int(r.messages), "customers": int(r.customers)}
                for r in grouped.sort_values("messages", ascending=False).itertuples()]

    def contact_pass_rates(self) -> list[dict]:
        return [{"check": r.check_name.replace("_", " "), "evaluated": int(r.evaluated), "failed": int(r.failed),
                 "pass_rate": percent_of(int(r.evaluated) - int(r.failed), int(r.evaluated))}
                for r in self.contact_checks.itertuples()]


@task(name="load-activity", cache_policy=NO_CACHE)
def load_activity(store: ArWarehouse, period: Period) -> Activity:
    engine = store.engine()
    with engine.connect() as conn:
        window = {"start": period.start, "end": period.end}
        outbox = _query(conn, "dunning_activity", window)
        held = _query(conn, "dunning_held_back", window).drop_duplicates()  # two runs a day hold back twice
        checks = _query(conn, "contact_checks", {"day": period.end})
    engine.dispose()
    # plain Python values: an empty result would otherwise carry Arrow's null type into every comparison
    return Activity(*(frame.astype(object) for frame in (outbox, held, checks)))


@dataclass
class Report:
    audience: str  # executive | collector | sales
    scope: str | None  # the collector's or sales rep's name
    to: list[str]
    subject: str
    summary: str  # the email's text: the headline figures
    pdf: Path
    html: Path


@dataclass
class ReportRun:
    reports: list[Report] = field(default_factory=list)
    unaddressed: list[str] = field(default_factory=list)  # collectors and reps in the ledger with no address
    chrome_start_seconds: float = 0.0
    kpi_seconds: float = 0.0
    company: Kpis | None = None
    one_pager: OnePager | None = None  # the executive report's first page: company-wide, in the reporting currency


def kpi_rows(locale: str) -> list[tuple[str, Callable[[CurrencyKpis], str]]]:
    """The KPI summary as every plain-text reader gets it (artifact, email, demo): label -> figure of a currency."""
    rows = [("Open AR", "open_cents"), ("Past due", "past_due_cents"), ("% current", "percent_current"),
            ("DSO (countback)", "dso_countback"), ("DSO (90-day period end)", "dso_period_end"),
            ("Best possible DSO", "best_possible_dso"), ("ADD", "average_days_delinquent"), ("CEI", "cei"),
            ("Collected", "collected_cents"), ("Disputed", "disputed"), ("Promises kept", "promises")]
    return [(label, lambda c, name=name: kpi_figure(c, name, locale)) for label, name in rows]


def _headline(kpis: Kpis, locale: str) -> list[str]:
    """The email's summary: a sentence per currency."""
    if kpis.empty:
        return ["No receivables in this scope for the period."]
    return [f"{c.currency}: open AR {kpi_figure(c, 'open_cents', locale)}, "
            f"{kpi_figure(c, 'percent_current', locale)} current, DSO {kpi_figure(c, 'dso_countback', locale)}, "
            f"CEI {kpi_figure(c, 'cei', locale)}, collected {kpi_figure(c, 'collected_cents', locale)}"
            for c in kpis.currencies] + unknown_notes(kpis)


def _records(frame: pd.DataFrame) -> list[dict]:
    return wh.plain(frame).to_dict("records")


@task(name="build-kpi-reports", cache_policy=NO_CACHE)
def build_reports(ledger: Ledger, activity: Activity, period: Period, company: CompanyProfile,
                  recipients: ReportRecipients, label: str, now: datetime | None = None,
                  dispute_bands: tuple[int, ...] = DISPUTE_AGE_BANDS) -> ReportRun:
    """Compute the KPIs for the department, each collector and each sales rep, and write each audience's report
    (PDF and HTML) with its charts, drawn by one Chrome. Open disputes are banded by days open from each of
    ``dispute_bands`` (the escalation policy's level days)."""
    logger = get_run_logger()
    run = ReportRun()

    def kpis_of(scope: Ledger) -> Kpis:
        started = time.perf_counter()
        kpis = compute_kpis(scope, period, company.aging_buckets, recipients.top_customers, dispute_bands)
        run.kpi_seconds += time.perf_counter() - started
        return kpis

    folder = project_path(recipients.output_dir) / label
    zone = ZoneInfo(company.time_zone)
    common = {"company": company, "period": period, "period_label": period_label(period.start, period.end,
                                                                                 company.locale),
              "generated": generated_at(now, zone), "targets": recipients, "target_met": target_met,
              "age_bands": age_band_labels(dispute_bands)}
    printing: list[Future] = []
    # Each report is computed, drawn and handed to a PDF worker process in turn, so printing one overlaps
    # computing the next. The executive summary comes last: it compares every collector.
    with pdf_workers() as pdfs, Charts() as charts:
        def write(audience: str, scope: str | None, to: list[str], kpis: Kpis, scoped: Activity,
                  extra: dict) -> None:
            title = {"executive": "AR executive summary", "collector": f"Collections report: {scope}",
                     "sales": f"Accounts report: {scope}"}[audience]
            pivot, main = aging_pivot(kpis), main_currencies(kpis)
            charts_of = {} if kpis.empty else {
                "aging_chart": charts.svg(aging_mix_figure(pivot, bucket_labels(company.aging_buckets),
                                                           company.brand_color), height=90 + 28 * len(pivot)),
                "trend_chart": None if audience == "sales" else  # a sales rep's report has no trend
                charts.svg(trend_figure(_records(kpis.trend), main, company.brand_color), height=270)}
            accounts = _records(kpis.accounts)
            attention = [r for r in accounts
                         if r["past_due_cents"] > 0 or (r["disputed_cents"] or 0) > 0 or r["on_hold"]]
            context = {**common, **charts_of, **extra, "title": title, "kpis": kpis, "scope": scope,
                       "attention": attention[:ACCOUNT_ROWS], "attention_total": len(attention),
                       "aging_pivot": pivot, "bucket_labels": bucket_labels(company.aging_buckets),
                       "main_currencies": main, "top_overdue": _records(kpis.top_overdue),
                       "disputes": _records(kpis.disputes), "broken_promises": _records(kpis.broken_promises),
                       "channels": scoped.by_channel(), "held_back": scoped.held_back_reasons()}
            html = render_html(audience, context, company.locale)
            name = audience if scope is None else f"{audience}-{slug(scope)}"
            printing.append(pdfs.submit(write_report, html, folder, name))
            subject = f"{company.legal_name}: {title}, {common['period_label']}"
            summary = _headline(kpis, company.locale)
            if extra.get("one_pager") and not kpis.empty:  # the executives' email opens company-wide
                summary.insert(0, company_headline(extra["one_pager"], company.locale))
            run.reports.append(Report(audience, scope, to, subject, "\n".join(summary),
                                      folder / f"{name}.pdf", folder / f"{name}.html"))

        comparison = []
        for name in sorted(ledger.customers["collector"].dropna().unique()):
            kpis = kpis_of(ledger.scoped("collector", name))
            theirs = activity.scoped(_customers_of(ledger, "collector", name))
            contacts = theirs.contacts_made()
            comparison += [{"collector": name, "currency": c.currency, "cei": c.cei, "figures": c,
                            "contacts": contacts} for c in kpis.currencies]
            if name in recipients.collectors:
                write("collector", name, [recipients.collectors[name]], kpis, theirs, {})
            else:
                run.unaddressed.append(f"collector {name}")
        for name in sorted(set(recipients.sales_reps) & set(ledger.customers["sales_rep"].dropna())):
            write("sales", name, [recipients.sales_reps[name]], kpis_of(ledger.scoped("sales_rep", name)),
                  activity.scoped(_customers_of(ledger, "sales_rep", name)), {})
        run.company = kpis_of(ledger)
        run.one_pager = executive_one_pager(ledger, run.company, company, recipients, company.aging_buckets)
        leading = main_currencies(run.company, 3)
        collector_chart = charts.svg(collector_figure(comparison, leading, company.brand_color), height=280) \
            if comparison else None
        write("executive", None, recipients.executives, run.company, activity,
              {"one_pager": run.one_pager, "comparison": comparison, "collector_chart": collector_chart,
               "collector_chart_currencies": leading, "contact_checks": activity.contact_pass_rates()})
        run.chrome_start_seconds = charts.start_seconds
        for job in printing:
            job.result()  # a PDF that could not be printed fails the run here, with WeasyPrint's error
    run.reports.sort(key=lambda r: ("executive", "collector", "sales").index(r.audience))
    run.unaddressed += [f"sales rep {n}" for n in sorted(set(ledger.customers["sales_rep"].dropna())
                                                          - set(recipients.sales_reps))]
    logger.info("Wrote %d reports to %s (KPIs %.1f s, Chrome start %.1f s)", len(run.reports), folder,
                run.kpi_seconds, run.chrome_start_seconds)
    return run


class PdfWorkersLost(RuntimeError):
    """A PDF worker process stopped before it printed its report."""


@contextmanager
def pdf_workers() -> Iterator[ProcessPoolExecutor]:
    """Processes that print reports to PDF, spawned rather than forked: a fork of this threaded process could
    inherit a lock held by one of Prefect's threads. Spawning runs the program that started Python again in each
    worker, so a script that builds reports must do so under ``if __name__ == "__main__":``; without it the
    workers die, and this says so instead of a bare BrokenProcessPool."""
    try:
        with ProcessPoolExecutor(PDF_WORKERS, mp_context=get_context("spawn")) as pool:
            yield pool
    except BrokenProcessPool as error:
        raise PdfWorkersLost(
            "a PDF worker process stopped before printing its report. If you run the KPI reports from a Python "
            "script of your own, put that call under `if __name__ == \"__main__\":` (each worker starts by running "
            "the script again; see README, KPI reports); otherwise look for the worker being killed, e.g. for "
            "memory") from error


def aging_pivot(kpis: Kpis) -> list[dict]:
    """One row per currency: its open amount in each aging bucket, and its total."""
    rows = []
    for currency, group in kpis.aging.groupby("currency", sort=True):
        buckets = [int(v) for v in group["open_cents"]]
        rows.append({"currency": currency, "buckets": buckets, "total_cents": sum(buckets),
                     "invoices": int(group["invoices"].sum())})
    return rows


def main_currencies(kpis: Kpis, count: int = 5) -> list[str]:
    """The currencies with the most open invoices (amounts in different currencies cannot be ranked)."""
    invoices = kpis.aging.groupby("currency")["invoices"].sum().sort_values(ascending=False, kind="stable")
    return sorted(invoices.index[:count])


def _customers_of(ledger: Ledger, column: str, name: str) -> pd.Series:
    return ledger.customers.loc[ledger.customers[column] == name, "customer_id"]


@task(name="email-kpi-reports", cache_policy=NO_CACHE)
def email_reports(run: ReportRun, email: EmailChannel, email_name: str, company: CompanyProfile) -> list[dict]:
    """One message per report to its audience, with its PDF attached, on one SMTP connection."""
    logger = get_run_logger()
    mailer = EmailSender(email, email_name)
    outcomes = []
    try:
        for report in run.reports:
            if not report.to:
                outcomes.append({"report": report.pdf.name, "to": "", "status": "not sent: no recipient"})
                continue
            text = (f"{report.subject}\n\n{report.summary}\n\nThe full report is attached as a PDF.\n\n"
                    f"-- arpilot for {company.legal_name}\n")
            mail = compose_email(RenderedMessage(report.subject, text), [(None, a) for a in report.to],
                                 f"report|{report.pdf.parent.name}|{report.pdf.stem}", email.from_address,
                                 email.from_name or company.sender_name, email.reply_to, datetime.now().astimezone())
            mail.add_attachment(report.pdf.read_bytes(), maintype="application", subtype="pdf",
                                filename=report.pdf.name)
            mailer.ready(SEND_ATTEMPTS, SEND_BACKOFF_SECONDS)
            delivery = deliver(lambda m=mail, r=report: mailer.send(m, email.from_address, r.to, lambda: None),
                               SEND_ATTEMPTS, SEND_BACKOFF_SECONDS)
            status = delivery.status if delivery.status != "failed" else f"failed: {delivery.reason}"
            outcomes.append({"report": report.pdf.name, "to": "; ".join(mask(a) for a in report.to), "status": status})
    finally:
        mailer.close()
    failed = [o for o in outcomes if o["status"].startswith("failed")]
    logger.info("Emailed %d of %d reports", sum(o["status"] == "sent" for o in outcomes), len(outcomes))
    if failed:
        raise RuntimeError(f"{len(failed)} report email(s) failed: "
                           + "; ".join(f"{o['report']} to {o['to']}: {o['status']}" for o in failed)
                           + f". Check the relay in block {email_name}; the PDFs are written and can be re-sent "
                             "by running the flow again.")
    return outcomes


def publish_reports(run: ReportRun, period: Period, company: CompanyProfile, sent: list[dict] | None) -> None:
    """The markdown KPI summary and a link to each PDF."""
    kpis = run.company
    lines = [f"# KPI reports, {period_label(period.start, period.end, company.locale)}", ""]
    if kpis is None or kpis.empty:
        lines.append("**No receivables in this period**: the reports say so; nothing is missing.")
    else:
        lines += ["| KPI | " + " | ".join(c.currency for c in kpis.currencies) + " |",
                  "| --- |" + " ---: |" * len(kpis.currencies)]
        lines += [f"| {name} | " + " | ".join(fmt(c) for c in kpis.currencies) + " |"
                  for name, fmt in kpi_rows(company.locale)]
        lines += ["", "Aging buckets " + ("add up to open AR to the cent." if kpis.aging_reconciles
                                          else "DO NOT add up to open AR: check the ledger sync.")]
        lines += [f"\n**Unknown**: {note}" for note in unknown_notes(kpis)]
    lines += ["", "## Reports", "", "| report | to | sent |", "| --- | --- | --- |"]
    status = {o["report"]: o["status"] for o in sent or []}
    lines += [f"| [{r.pdf.name}]({r.pdf.as_uri()}) | {'; '.join(mask(a) for a in r.to) or '–'} | "
              f"{status.get(r.pdf.name, 'not emailed')} |" for r in run.reports]
    if run.unaddressed:
        lines += ["", "No report address for: " + ", ".join(run.unaddressed)
                  + " (add them to the report recipients block)."]
    create_markdown_artifact("\n".join(lines), key="kpi-summary", description="KPIs and the reports of this run")
    for r in run.reports:
        create_link_artifact(r.pdf.as_uri(), link_text=r.pdf.name, key=f"report-{r.pdf.stem}"[:60].lower(),
                             description=r.subject)


@task(name="snapshot-kpis", cache_policy=NO_CACHE)
def snapshot_kpis(store: ArWarehouse, company: CompanyProfile, day: date, run_id: str) -> int:
    """Tonight's KPIs per currency into kpi_snapshots (replacing an earlier run's of the same day); a figure that
    cannot be known is stored as NULL with the reason, never as 0."""
    ledger = load_ledger.fn(store, company.time_zone, open_as_of=day)  # the sync just read today's open amounts
    kpis = compute_kpis(ledger, Period(day, day), company.aging_buckets)
    rows = pd.DataFrame([{"snapshot_on": day, "currency": c.currency, "open_cents": c.open_cents,
                          "current_cents": c.current_cents, "past_due_cents": c.past_due_cents,
                          "disputed_cents": c.disputed_cents, "disputed_invoices": c.disputed_invoices,
                          "dso_days": c.dso_countback, "best_possible_dso_days": c.best_possible_dso,
                          "percent_current": c.percent_current, "run_id": run_id, "taken_at": wh.utcnow(),
                          "unknown_reason": c.unknown_reason}
                         for c in kpis.currencies])
    engine = store.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM kpi_snapshots WHERE snapshot_on = :d"), {"d": day})
        if len(rows):
            wh.insert(conn, "kpi_snapshots", rows)
    engine.dispose()
    return len(rows)
