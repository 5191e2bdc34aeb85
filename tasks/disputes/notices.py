"""Who is told what about a dispute, as pure functions from dispute cases to staff notices.

- seen: the AR manager(s) and the customer's sales rep, once each ('dispute|<id>|opened|manager' / '|sales').
- up a level: that level's people, and the dispute's owner is reminded ('dispute|<id>|level-<n>' / '|owner').
- resolved: the AR manager(s) and the sales rep hear the outcome ('dispute|<id>|resolved|manager' / '|sales').
A sales rep or owner without an address in the report recipients block is listed in ``missing``, so the run's
artifact says who could not be told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from blocks.company import CompanyProfile
from blocks.escalation_policy import EscalationPolicy
from blocks.report_recipients import ReportRecipients
from reports.formats import money
from tasks.disputes.cases import DisputeCase
from tasks.staff_mail import StaffNotice, render_staff

OUTCOME_WORDS = {"credited": "resolved by a credit", "rejected": "rejected: the customer owes the invoice",
                 "paid": "paid"}


@dataclass
class DisputeNotices:
    notices: list[StaffNotice] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (dispute id, who has no address)


def _context(case: DisputeCase, company: CompanyProfile, today: date) -> dict:
    name, email, phone = case.ap_contact or (None, None, None)
    return {
        "company": company, "case": case, "reason": case.reason, "days_open": case.days_open(today),
        "amount": money(case.amount_cents, case.currency, company.locale),
        "open": money(case.open_cents, case.currency, company.locale),
        "reminders": [{"day": d.isoformat(), "channel": c, "step": s} for d, c, s in case.reminders],
        "contact": {"name": name or "", "email": email or "", "phone": phone or ""} if case.ap_contact else None,
        "collector": case.collector or "no collector in the ledger", "sales_rep": case.sales_rep or "none",
        "portal_url": case.portal_url, "outcome": OUTCOME_WORDS.get(case.status, case.status),
    }


def _notice(out: DisputeNotices, key: str, kind: str, to: list[str], template: str, context: dict,
            case: DisputeCase) -> None:
    out.notices.append(StaffNotice(key, kind, tuple(to), render_staff(template, context | {"reference": key}),
                                   case.customer_id))


def _rep_address(case: DisputeCase, recipients: ReportRecipients, out: DisputeNotices) -> str | None:
    address = recipients.sales_reps.get(case.sales_rep or "")
    if address is None:
        out.missing.append((case.dispute_id, f"sales rep {case.sales_rep or '(none in the ledger)'}"))
    return address


def _manager_and_rep(event: str, cases: list[DisputeCase], policy: EscalationPolicy, recipients: ReportRecipients,
                     company: CompanyProfile, today: date) -> DisputeNotices:
    """The AR managers' and the sales rep's notice of each dispute's ``event`` (opened, resolved)."""
    out = DisputeNotices()
    kind = f"dispute-{event}"
    for case in cases:
        context = _context(case, company, today)
        base = f"dispute|{case.dispute_id}|{event}"
        _notice(out, f"{base}|manager", kind, policy.ar_managers, kind, context, case)
        rep = _rep_address(case, recipients, out)
        if rep:
            _notice(out, f"{base}|sales", kind, [rep], kind, context, case)
    return out


def opened_notices(cases: list[DisputeCase], policy: EscalationPolicy, recipients: ReportRecipients,
                   company: CompanyProfile, today: date) -> DisputeNotices:
    return _manager_and_rep("opened", cases, policy, recipients, company, today)


def resolved_notices(cases: list[DisputeCase], policy: EscalationPolicy, recipients: ReportRecipients,
                     company: CompanyProfile, today: date) -> DisputeNotices:
    return _manager_and_rep("resolved", cases, policy, recipients, company, today)


def level_due(days_open: int, policy: EscalationPolicy) -> int:
    """The escalation level a dispute open this many days has reached (0: none of the policy's levels yet)."""
    return sum(1 for level in policy.levels if days_open >= level.days)


def level_notices(cases: list[DisputeCase], policy: EscalationPolicy, recipients: ReportRecipients,
                  company: CompanyProfile, today: date) -> DisputeNotices:
    """For disputes at level 1 or more: that level's people, and the owner's reminder (the collector)."""
    out = DisputeNotices()
    for case in cases:
        if case.level < 1:
            continue
        level = policy.levels[case.level - 1]
        context = _context(case, company, today) | {"level": level, "level_number": case.level}
        base = f"dispute|{case.dispute_id}|level-{case.level}"
        _notice(out, base, "dispute-level", level.to, "dispute-level", context, case)
        owner = recipients.collectors.get(case.owner or "")
        if owner:
            _notice(out, f"{base}|owner", "dispute-level", [owner], "dispute-level", context, case)
        else:
            out.missing.append((case.dispute_id, f"owner {case.owner or '(none)'}"))
    return out
