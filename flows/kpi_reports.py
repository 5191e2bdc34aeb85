"""KPI reports on their own schedule: the department, each collector and each sales rep get a PDF by email."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from blocks import DEFAULT_COMPANY, DEFAULT_EMAIL, DEFAULT_RECIPIENTS, DEFAULT_WAREHOUSE, company_today, load_block
from blocks.company import CompanyProfile
from blocks.report_recipients import ReportRecipients
from tasks.kpi.disputes import dispute_bands
from tasks.kpi.maths import Period, last_month_end
from tasks.kpi.reports import ReportRun, build_reports, email_reports, load_activity, load_ledger, publish_reports


def report_period(period: str, as_of: date) -> Period:
    """week: the seven days ending as_of; month: the calendar month of as_of, up to as_of."""
    if period == "week":
        return Period.week_ending(as_of)
    return Period(Period.month_of(as_of).start, as_of)


def last_full_month_end(today: date) -> date:
    """The as_of of a month report that covers the last full month before ``today``: what the monthly deployment
    (on the 1st, as of yesterday) reports."""
    return last_month_end(today - timedelta(days=1))


def _as_of(today: date, as_of: date | None) -> date:
    """Default: yesterday by the company's calendar, the last complete day (Monday 07:00 reports last week)."""
    return as_of or today - timedelta(days=1)


def _run_name() -> str:
    params = flow_run.parameters
    now = datetime.fromisoformat(str(params["now"])) if params.get("now") else None
    as_of = date.fromisoformat(str(params["as_of"])) if params.get("as_of") else None
    today = company_today(params.get("company", DEFAULT_COMPANY), now)
    return f"kpi-reports-{params.get('period', 'week')}-to-{_as_of(today, as_of)}"


@flow(name="kpi-reports", flow_run_name=_run_name)
def kpi_reports(
    period: Literal["week", "month"] = "week",
    as_of: date | None = None,
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    recipients: str = DEFAULT_RECIPIENTS,
    email_channel: str | None = DEFAULT_EMAIL,
    now: datetime | None = None,
    escalation_policy: str | None = None,
) -> ReportRun:
    """Compute the KPIs for the period ending as_of (default: yesterday), write the executive, collector and
    sales reports as PDF and HTML, and email each to its audience (email_channel empty: write only).
    escalation_policy: open disputes are shown by days open in bands from its level days (without one, or
    without levels: 0-9, 10-29 and 30+ days)."""
    logger = get_run_logger()
    profile: CompanyProfile = load_block(company)
    audience: ReportRecipients = load_block(recipients)
    store = load_block(warehouse)
    email = load_block(email_channel) if email_channel else None
    window = report_period(period, _as_of(profile.today(now), as_of))
    logger.info("KPI reports for %s to %s (%s)", window.start, window.end, period)
    ledger = load_ledger(store, profile.time_zone)
    activity = load_activity(store, window)
    levels = load_block(escalation_policy).levels if escalation_policy else []
    run = build_reports(ledger, activity, window, profile, audience, f"{period}-to-{window.end}", now,
                        dispute_bands([level.days for level in levels]))
    sent = None
    try:
        if email is not None:
            sent = email_reports(run, email, email_channel, profile)
    finally:
        publish_reports(run, window, profile, sent)
    return run
