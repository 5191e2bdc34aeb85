"""The morning digest: the controller's email of the night's figures (reminders sent, held back, rows quarantined,
failed runs), sent once a day, beside a markdown artifact of the same figures."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks import DEFAULT_ALERT_EMAIL, DEFAULT_COMPANY, DEFAULT_WAREHOUSE, company_today, load_block
from blocks.alert_email import AlertEmail
from blocks.company import CompanyProfile
from tasks.alerts.digest import NightDigest, digest_notice, night_figures_task
from tasks.staff_mail import StaffMailResult, send_staff_notices_task


def _run_name() -> str:
    return f"morning-digest-{company_today(flow_run.parameters.get('company', DEFAULT_COMPANY))}"


@flow(name="morning-digest", flow_run_name=_run_name)
def morning_digest(warehouse: str = DEFAULT_WAREHOUSE, company: str = DEFAULT_COMPANY,
                   alert_email: str = DEFAULT_ALERT_EMAIL, hours: float = 24) -> StaffMailResult:
    """Email the alert block's addresses the night's figures: the company day's reminders and what was held back,
    and the rows quarantined and arpilot runs failed in the ``hours`` before now. One email a day (a rerun sends
    nothing), through the alert block's email channel."""
    profile: CompanyProfile = load_block(company)
    alert: AlertEmail = load_block(alert_email)
    engine = load_block(warehouse).engine()
    digest: NightDigest = night_figures_task(engine, profile.today(), hours)
    notice = digest_notice(digest, profile, alert.to)
    create_markdown_artifact(notice.message.text, key="morning-digest", description=notice.message.subject)
    channel = alert.email_channel
    name = f"{alert_email} (its email channel)"
    return send_staff_notices_task(engine, channel, name, [notice], str(flow_run.id), profile.sender_name)
