"""A delivered invoice as the customer's AP clerk receives it: an email in the reminders' branding with the
invoice's PDF attached (the ERP's own when the ledger names one, else rendered by arpilot from the invoice data),
how to pay it, and the reference to quote so the payment is matched to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from babel import Locale
from babel.dates import format_date

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from blocks.ledger import project_path
from reports.formats import money
from reports.invoice_pdf import invoice_pdf
from tasks.dunning.delivery import InvoiceDelivery
from tasks.dunning.messages import RenderedMessage, email_message, message_context, render_email
from tasks.output_files import slug

PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class RenderedInvoice(RenderedMessage):
    pdf: bytes = b""
    pdf_name: str = "invoice.pdf"


def remittance_reference(invoice_number: str, customer_id: str) -> str:
    """What the customer quotes with a bank transfer: the invoice number, and the customer number for when one
    transfer pays several invoices."""
    return f"{invoice_number} {customer_id}"


def erp_pdf(pdf_path: str, folder: str | None) -> Path:
    """Where the ERP's PDF is: relative paths are under the policy's invoice_pdf_dir (else the checkout)."""
    return project_path(str(Path(folder) / pdf_path) if folder else pdf_path)


def erp_pdf_problem(pdf_path: str | None, folder: str | None) -> str | None:
    """Why the ERP's PDF the ledger names cannot be sent, or None (also when it names none)."""
    if not pdf_path:
        return None
    path = erp_pdf(pdf_path, folder)
    try:
        with path.open("rb") as pdf:
            head = pdf.read(len(PDF_MAGIC))
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None if head == PDF_MAGIC else f"{path} is not a PDF"


def invoice_context(delivery: InvoiceDelivery, company: CompanyProfile, policy: DunningPolicy,
                    sender_address: str | None = None) -> dict:
    """A reminder's merge fields (company, contact, pay link, collector...) and the invoice's own."""
    locale = company.locale
    invoice = delivery.invoice
    terms = (invoice.due_date - delivery.issue_date).days
    paid = delivery.total_cents - invoice.open_cents
    return message_context(delivery, company, policy, sender_address) | {
        "invoice": {"number": invoice.invoice_number,
                    "issued": format_date(delivery.issue_date, "long", locale=locale),
                    "due": format_date(invoice.due_date, "long", locale=locale),
                    "terms": f"net {terms} days" if terms > 0 else "due on receipt",
                    "total": money(delivery.total_cents, delivery.currency, locale),
                    "paid": money(paid, delivery.currency, locale) if paid > 0 else "",
                    "amount": money(invoice.open_cents, delivery.currency, locale)},
        "reference": remittance_reference(invoice.invoice_number, delivery.customer_id),
        "bank_account": company.bank_accounts.get(delivery.currency, ""),
        "bill_to": [line for line in (delivery.city, delivery.country and Locale.parse(locale).territories.get(
            delivery.country, delivery.country)) if line],
        "attention": delivery.recipients[0].name if delivery.recipients else None,
    }


def render_invoice(delivery: InvoiceDelivery, company: CompanyProfile, policy: DunningPolicy,
                   sender_address: str | None = None) -> RenderedInvoice:
    """The email's subject, text and HTML, and the PDF it carries."""
    context = invoice_context(delivery, company, policy, sender_address)
    rendered = render_email("invoice", context, policy)
    if delivery.pdf_path:
        pdf = erp_pdf(delivery.pdf_path, policy.invoice_pdf_dir).read_bytes()
    else:
        pdf = invoice_pdf(context)
    return RenderedInvoice(rendered.subject, rendered.text, rendered.html, pdf,
                           f"invoice-{slug(delivery.invoice.invoice_number)}.pdf")


def invoice_email(delivery: InvoiceDelivery, rendered: RenderedInvoice, sender_address: str, sender_name: str,
                  reply_to: str | None, policy: DunningPolicy, now: datetime) -> EmailMessage:
    """The email as a reminder is built (List-Unsubscribe, deterministic Message-ID), with the PDF attached."""
    mail = email_message(delivery, rendered, sender_address, sender_name, reply_to, policy, now)
    mail.add_attachment(rendered.pdf, maintype="application", subtype="pdf", filename=rendered.pdf_name)
    return mail
