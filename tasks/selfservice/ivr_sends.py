"""What a caller can have sent from the IVR's option 4: the pay links by text to the number they call from, or
the statement PDF by email to their account's addresses. The route asks first whether the number may be texted
now (tasks/selfservice/reach.py) and reserves the call's one text or email (ivr_log.reserve_send) before either
leaves."""

from __future__ import annotations

from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from babel.dates import format_date

from blocks.company import CompanyProfile
from blocks.phone_desk import PhoneDesk
from reports.formats import money
from tasks.portal.account import Account
from tasks.portal.links import pay_link
from tasks.portal.pages import statement_pdf
from tasks.selfservice.ivr import payable_by_currency
from tasks.selfservice.speech import say


def pay_links_text(phone: PhoneDesk, company: CompanyProfile, account: Account, language: str, today: date) -> str:
    """A line per currency with something payable: the amount and the portal's signed link for that currency."""
    portal = phone.dunning_policy.pay_portal
    assert portal is not None, "the text is offered only when the dunning policy names a pay portal"
    return "\n".join(say("link_text", language, company=company.legal_name, amount=money(cents, currency, language),
                         link=pay_link(portal, account.customer_id, currency, today))
                     for currency, cents in sorted(payable_by_currency(account).items()))


def text_pay_links(phone: PhoneDesk, to: str, body: str) -> str:
    """Send the text through the phone desk's Twilio account; returns Twilio's message sid (TwilioRestException or
    OSError when Twilio refuses or cannot be reached)."""
    channel = phone.twilio
    return channel.client().messages.create(to=to, body=body, **channel.sender(), **channel.delivery_reports()).sid


def email_statement(phone: PhoneDesk, company: CompanyProfile, account: Account, addresses: list[str],
                    language: str, today: date) -> str:
    """Email the statement PDF (the portal's) to ``addresses`` through the phone desk's email channel; returns the
    Message-ID (smtplib's errors or OSError when the relay refuses or cannot be reached)."""
    channel = phone.email
    assert channel is not None, "the statement is offered only when the phone desk has an email channel"
    mail = EmailMessage()
    mail["From"] = Address(channel.from_name or company.sender_name, addr_spec=channel.from_address)
    mail["To"] = ", ".join(addresses)
    mail["Subject"] = say("statement_subject", language, company=company.legal_name,
                          day=format_date(today, "long", locale=language))
    mail["Message-ID"] = make_msgid(domain=channel.from_address.rsplit("@", 1)[-1])
    if channel.reply_to:
        mail["Reply-To"] = channel.reply_to
    mail.set_content(say("statement_text", language, company=company.legal_name))
    mail.add_attachment(statement_pdf(company, account, language, today), maintype="application", subtype="pdf",
                        filename=f"statement-{today.isoformat()}.pdf")
    client = channel.connect()
    try:
        client.smtp.send_message(mail)
    finally:
        client.close()
    return mail["Message-ID"]
