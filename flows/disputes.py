"""Disputes: the AR manager and the sales rep in the loop the moment one is seen, and up the levels as days pass.

- dispute-escalation: started by the deployment trigger on an arpilot.invoice.disputed or dispute-resolved event
  (within a minute of the nightly's sync), for that invoice; or, with no invoice, for every dispute whose people
  have not all been told yet (the nightly calls it so where no deployment exists, and as a catch-up).
- dispute-check: the nightly's daily part: record the ledger's disputes, announce them as events, raise levels.
- resolve-dispute: a person's decision (credited, rejected, paid), filled in as a form in the UI or by the CLI.
Every email is exactly once (tasks/staff_mail.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from blocks import (
    DEFAULT_COMPANY,
    DEFAULT_DUNNING_POLICY,
    DEFAULT_EMAIL,
    DEFAULT_ESCALATION_POLICY,
    DEFAULT_RECIPIENTS,
    DEFAULT_WAREHOUSE,
    company_today,
    load_block,
)
from blocks.company import CompanyProfile
from blocks.escalation_policy import EscalationPolicy
from tasks.disputes.escalation import (
    cases_to_tell,
    publish_escalation,
    put_on_worklists,
    raise_levels,
    record_ledger_disputes,
)
from tasks.disputes.events import announce_disputes, escalation_deployed, invoice_number
from tasks.disputes.notices import DisputeNotices, level_notices, opened_notices, resolved_notices
from tasks.disputes.records import resolve_by_person
from tasks.staff_mail import StaffMailResult, send_staff_notices_task

CATCH_UP_AFTER = timedelta(hours=1)  # where a trigger answers the events, the nightly catches up what it missed


@dataclass
class DisputeEscalation:
    opened: int = 0
    resolved: int = 0
    levels: int = 0
    mail: StaffMailResult = field(default_factory=StaffMailResult)


def _escalation_name() -> str:
    invoice = flow_run.parameters.get("invoice")
    if invoice:
        return f"dispute-escalation-{invoice_number(invoice)}"
    return f"dispute-escalation-{company_today(flow_run.parameters.get('company', DEFAULT_COMPANY))}"


@flow(name="dispute-escalation", flow_run_name=_escalation_name)
def dispute_escalation(
    invoice: str | None = None,
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    escalation_policy: str = DEFAULT_ESCALATION_POLICY,
    recipients: str = DEFAULT_RECIPIENTS,
    dunning_policy: str | None = DEFAULT_DUNNING_POLICY,
    email_channel: str = DEFAULT_EMAIL,
    seen_before: datetime | None = None,
    today: date | None = None,
) -> DisputeEscalation:
    """Tell the AR manager and the sales rep of the invoice's dispute (or its outcome), once each, and put it on the
    collector's worklist. invoice: 'INV-1' or the event's resource id 'arpilot.invoice.INV-1'; empty: every
    dispute whose people have not all been told (seen_before: only those announced before then). dunning_policy
    gives the pay portal whose customer view the emails link to. today: the company's day days open are counted
    to (default: today)."""
    profile: CompanyProfile = load_block(company)
    policy: EscalationPolicy = load_block(escalation_policy)
    people = load_block(recipients)
    email = load_block(email_channel)
    engine = load_block(warehouse).engine()
    today = today or profile.today()
    cases = cases_to_tell(engine, invoice_number(invoice) if invoice else None,
                          load_block(dunning_policy) if dunning_policy else None, today, seen_before)
    built = [opened_notices(cases["opened"], policy, people, profile, today),
             resolved_notices(cases["resolved"], policy, people, profile, today),
             level_notices(cases["level"], policy, people, profile, today)]
    notices = DisputeNotices([n for b in built for n in b.notices], [m for b in built for m in b.missing])
    put_on_worklists(engine, cases["opened"] + cases["level"], profile.locale)
    mail = send_staff_notices_task(engine, email, email_channel, notices.notices, str(flow_run.id),
                                   profile.sender_name)
    publish_escalation(cases, notices, mail, today, profile.locale)
    return DisputeEscalation(len(cases["opened"]), len(cases["resolved"]), len(cases["level"]), mail)


@flow(name="dispute-check", flow_run_name="dispute-check-{today}")
def dispute_check(today: date, warehouse: str, company: str, escalation_policy: str, recipients: str,
                  dunning_policy: str | None, email_channel: str) -> DisputeEscalation:
    """The nightly's daily part: announce new and resolved disputes as events, raise the levels of disputes open
    long enough, and tell whoever has not been told: everyone at once where no dispute-escalation deployment
    answers the events; else only what the events' runs missed (announced over an hour ago)."""
    engine = load_block(warehouse).engine()
    announce_disputes(engine)
    raised = raise_levels(engine, load_block(escalation_policy), today)
    get_run_logger().info("%d dispute(s) went up an escalation level", raised)
    deployed = escalation_deployed()
    return dispute_escalation(None, warehouse, company, escalation_policy, recipients, dunning_policy, email_channel,
                              datetime.now(UTC).replace(tzinfo=None) - CATCH_UP_AFTER if deployed else None, today)


def record_and_check_disputes(store_name: str, engine, today: date, blocks: dict[str, str | None]) -> \
        DisputeEscalation | None:
    """What the nightly does after its sync: record the ledger's disputes (always: their age is a KPI), then,
    with an escalation policy, the dispute check."""
    record_ledger_disputes(engine)
    if not blocks.get("escalation_policy"):
        return None
    return dispute_check(today, store_name, **blocks)


def _resolve_name() -> str:
    return f"resolve-dispute-{flow_run.parameters.get('invoice')}-{flow_run.parameters.get('outcome')}"


@flow(name="resolve-dispute", flow_run_name=_resolve_name)
def resolve_dispute(
    invoice: Annotated[str, Field(description="The disputed invoice's number, as in the ledger.")],
    outcome: Annotated[Literal["credited", "rejected", "paid"], Field(
        description="credited: a credit note or correction settles it; rejected: the customer owes the invoice "
                    "(reminders resume); paid.")],
    decided_by: Annotated[str, Field(description="Your name: every decision is recorded with who made it.")],
    note: Annotated[str, Field(description="Why, in a sentence the manager and the sales rep will read.")],
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    escalation_policy: str = DEFAULT_ESCALATION_POLICY,
    recipients: str = DEFAULT_RECIPIENTS,
    dunning_policy: str | None = DEFAULT_DUNNING_POLICY,
    email_channel: str = DEFAULT_EMAIL,
) -> str:
    """Record a person's decision on an invoice's open dispute, announce it (arpilot.invoice.dispute-resolved),
    and tell the AR manager and the sales rep the outcome. Returns the dispute id."""
    engine = load_block(warehouse).engine()
    with engine.begin() as conn:
        dispute = resolve_by_person(conn, invoice, outcome, decided_by, note)
    announce_disputes(engine)
    get_run_logger().info("Dispute %s %s by %s: %s", dispute, outcome, decided_by, note)
    if not escalation_deployed():
        dispute_escalation(invoice, warehouse, company, escalation_policy, recipients, dunning_policy, email_channel)
    return dispute
