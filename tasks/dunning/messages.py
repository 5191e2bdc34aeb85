"""Turning a planned message into what its recipient reads: subject, plain text, HTML, SMS or spoken text.

Templates live in reports/templates/dunning (one set per tone; finance ops may point the dunning policy at a
folder of their own). They run in Jinja2's sandbox with autoescaping for HTML, and ledger text only ever enters
as data: a customer called ``{{ 7*7 }}`` or ``<script>`` is shown exactly so, and harmlessly.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import quote

from babel.dates import format_date
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.ledger import PROJECT_ROOT, project_path
from reports.formats import money
from tasks.dunning.plan import PlannedMessage
from tasks.money import to_decimal
from tasks.portal.links import pay_link

TEMPLATES = PROJECT_ROOT / "reports" / "templates" / "dunning"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None = None


class TemplateDirMissing(FileNotFoundError):
    """The policy names a template folder that is not there: sending the built-in wording instead would be wrong."""


def template_folders(custom_dir: str | None) -> list[str]:
    """The policy's own folder first (a template it lacks comes from the built-in set), then the built-in set."""
    if not custom_dir:
        return [str(TEMPLATES)]
    own = project_path(custom_dir)
    if not own.is_dir():
        raise TemplateDirMissing(f"template_dir {own} is not a folder on this machine; create it with your "
                                 "templates (same file names as reports/templates/dunning) or clear template_dir "
                                 "to send the built-in wording")
    return [str(own), str(TEMPLATES)]


@lru_cache(maxsize=8)
def _environment(custom_dir: str | None) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(template_folders(custom_dir)),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
        auto_reload=False,  # a run renders thousands of messages; templates are read once per process
    )


def due_status(days: int) -> str:
    """"due in 3 days", "due today", "12 days overdue": how a reminder and the pay portal say it."""
    if days < -1:
        return f"due in {-days} days"
    if days == -1:
        return "due tomorrow"
    if days == 0:
        return "due today"
    return f"{days} day{'s' if days != 1 else ''} overdue"


def pay_url(message: PlannedMessage, policy: DunningPolicy) -> str:
    """The portal's signed link when the policy names a portal, else the policy's own (unsigned) pay page."""
    if policy.pay_portal:
        return pay_link(policy.pay_portal, message.customer_id, message.currency, message.planned_on)
    return policy.pay_url.format(customer_id=quote(message.customer_id, safe=""),
                                 currency=quote(message.currency, safe=""))


def message_context(message: PlannedMessage, company: CompanyProfile, policy: DunningPolicy,
                    sender_address: str | None = None) -> dict:
    """Every merge field a template may use; amounts and dates are already formatted for the locale."""
    locale = company.locale
    first = message.recipients[0].name if message.recipients else None
    collector = message.collector or ""
    return {
        "company": {"legal_name": company.legal_name, "sender_name": company.sender_name,
                    "logo_url": company.logo_url, "brand_color": company.brand_color},
        "language": locale.split("_")[0],
        "first_name": (first or "").split()[0] if first and first.strip() else "Accounts Payable team",
        "customer_name": message.customer_name,
        "customer_id": message.customer_id,
        "currency": message.currency,
        "tone": message.tone,
        "step": message.step,
        "invoices": [{"number": i.invoice_number, "due": format_date(i.due_date, "medium", locale=locale),
                      "amount": money(i.open_cents, message.currency, locale), "status": due_status(i.days_past_due)}
                     for i in message.invoices],
        "first_due": format_date(min(i.due_date for i in message.invoices), "medium", locale=locale)
        if message.invoices else "",
        "total": money(message.amount_cents, message.currency, locale),
        "days_past_due": message.days_past_due,
        "pay_url": pay_url(message, policy),
        "collector": {"name": collector or company.sender_name,
                      "phone": policy.collector_phones.get(collector) or policy.ar_phone},
        "unsubscribe_email": policy.unsubscribe_email or sender_address or "",
    }


def render(message: PlannedMessage, company: CompanyProfile, policy: DunningPolicy,
           sender_address: str | None = None) -> RenderedMessage:
    """The message for its channel: email gets subject, text and HTML; SMS, voice and a call its text."""
    env = _environment(policy.template_dir)
    context = message_context(message, company, policy, sender_address)
    if message.channel in ("sms", "voice", "call"):
        name = "voice" if message.channel == "call" else message.channel
        return RenderedMessage("", " ".join(env.get_template(f"{name}.txt.j2").render(context).split()))
    return _email_parts(env, message.tone, context)


def render_escalations(messages: list[PlannedMessage], company: CompanyProfile,
                       policy: DunningPolicy) -> RenderedMessage:
    """One email to the AR manager listing every account that reached an escalating step today, most
    urgent first (open amount x days past due, within each currency), instead of one email per account."""
    locale = company.locale
    ordered = sorted(messages, key=lambda m: (m.currency, -m.amount_cents * max(m.days_past_due, 1)))
    context = {
        "company": {"legal_name": company.legal_name, "sender_name": company.sender_name,
                    "logo_url": company.logo_url, "brand_color": company.brand_color},
        "day": format_date(messages[0].planned_on, "medium", locale=locale),
        "accounts": [{"customer": m.customer_name, "customer_id": m.customer_id,
                      "collector": m.collector or "unassigned", "currency": m.currency, "step": m.step,
                      "total": money(m.amount_cents, m.currency, locale), "invoices": len(m.invoices),
                      "days_past_due": m.days_past_due} for m in ordered],
    }
    return _email_parts(_environment(policy.template_dir), "escalation", context)


def render_email(name: str, context: dict, policy: DunningPolicy) -> RenderedMessage:
    """An email from the templates ``name``.subject/.txt/.html.j2 of the policy's set, for messages whose merge
    fields go beyond a reminder's (an invoice's delivery)."""
    return _email_parts(_environment(policy.template_dir), name, context)


def _email_parts(env: SandboxedEnvironment, name: str, context: dict) -> RenderedMessage:
    subject = " ".join(env.get_template(f"{name}.subject.j2").render(context).split())
    context["subject"] = subject
    return RenderedMessage(subject, env.get_template(f"{name}.txt.j2").render(context).strip() + "\n",
                           env.get_template(f"{name}.html.j2").render(context))


def smtp_address(address: str) -> str:
    """The address with its domain in ASCII (IDNA), which every relay accepts; a non-ASCII local part still
    needs a relay that speaks SMTPUTF8."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}" if not domain.isascii() else address


def message_id(key: str, sender_address: str) -> str:
    """Deterministic Message-ID: a relay's log can be searched for exactly this outbox row."""
    domain = sender_address.rpartition("@")[2] or "arpilot.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def email_message(message: PlannedMessage, rendered: RenderedMessage, sender_address: str, sender_name: str,
                  reply_to: str | None, policy: DunningPolicy, now: datetime) -> EmailMessage:
    """A reminder to the customer's AP contacts: List-Unsubscribe, and the statement if configured."""
    mail = compose_email(rendered, [(r.name, r.address) for r in message.recipients], message.key, sender_address,
                 sender_name, reply_to, now)
    unsubscribe = policy.unsubscribe_email or sender_address
    mail["List-Unsubscribe"] = f"<mailto:{unsubscribe}?subject={quote('unsubscribe ' + message.customer_id)}>"
    if policy.attach_statement and message.channel == "email":  # a delivered invoice carries its PDF instead
        mail.add_attachment(statement_csv(message).encode(), maintype="text", subtype="csv",
                            filename=f"statement-{message.customer_id}-{message.currency}.csv")
    return mail


def escalation_message(messages: list[PlannedMessage], rendered: RenderedMessage, sender_address: str,
                       sender_name: str, policy: DunningPolicy, now: datetime) -> EmailMessage:
    """The internal escalation digest, with the accounts as a CSV attachment whose Reference column names the
    outbox row each account's escalation is recorded under."""
    covers = " ".join(sorted(m.key for m in messages))
    day = messages[0].planned_on.isoformat()
    reference = f"escalations|{day}|{hashlib.sha256(covers.encode()).hexdigest()[:12]}"
    mail = compose_email(rendered, [(None, a) for a in policy.escalation_to], reference, sender_address, sender_name,
                         None, now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Customer", "Customer id", "Collector", "Currency", "Open amount", "Invoices", "Days past due",
                     "Step", "Reference"])
    writer.writerows([m.customer_name, m.customer_id, m.collector or "", m.currency, str(to_decimal(m.amount_cents)),
                      len(m.invoices), m.days_past_due, m.step, m.key] for m in messages)
    mail.add_attachment(out.getvalue().encode(), maintype="text", subtype="csv", filename=f"escalations-{day}.csv")
    return mail


def compose_email(rendered: RenderedMessage, recipients: list[tuple[str | None, str]], reference: str,
          sender_address: str, sender_name: str, reply_to: str | None, now: datetime) -> EmailMessage:
    """Plain text and HTML alternatives with a deterministic Message-ID.

    Built with the standard library rather than yagmail's prepare_send, whose plain-text part is a copy of
    the HTML source; yagmail still owns the SMTP connection and login.
    """
    mail = EmailMessage()
    mail["From"] = Address(sender_name, addr_spec=sender_address)
    # Address objects, not formatted text: a local part such as 経理@ is kept as UTF-8 for an SMTPUTF8 relay.
    mail["To"] = tuple(Address(name or "", *smtp_address(address).rsplit("@", 1)) for name, address in recipients)
    mail["Subject"] = rendered.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(reference, sender_address)
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["X-Arpilot-Reference"] = reference
    mail.set_content(rendered.text)
    if rendered.html:
        mail.add_alternative(rendered.html, subtype="html")
    return mail


def statement_csv(message: PlannedMessage) -> str:
    """Open invoices as a spreadsheet reads them: plain decimal amounts, ISO dates."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Invoice", "Due date", "Days past due", "Currency", "Open amount"])
    for i in message.invoices:
        writer.writerow([i.invoice_number, i.due_date.isoformat(), i.days_past_due, message.currency,
                         str(to_decimal(i.open_cents))])
    return out.getvalue()


def twiml(text: str, voice: str, language: str) -> str:
    """The spoken reminder as TwiML, with the text escaped as XML."""
    from xml.sax.saxutils import escape

    return (f'<Response><Say voice="{escape(voice)}" language="{escape(language)}">{escape(text)}</Say>'
            f"</Response>")
