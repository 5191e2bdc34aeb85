"""The IVR's option 4 through the serve app over a real warehouse (SQLite and PostgreSQL): the pay links texted
through the local Twilio server once per call and only for what the page lets the customer pay, no text to a number
opted out or outside the contact's hours, and the statement PDF emailed to the account's AP addresses only."""

from __future__ import annotations

import sqlalchemy as sa
from ivr_cases import Caller, steps
from selfservice_cases import (
    ACME,
    AFTER_HOURS,
    BETA,
    DESK_NUMBER,
    PORTAL,
    PUBLIC,
    TODAY,
    post,
    rows,
    seed_ivr_world,
    serve,
    webhooks,
)

from tasks.portal.links import unseal


def test_option_4_texts_the_pay_links_through_twilio_once_per_call(ivr, warehouse, ivr_twilio):
    call = Caller(ivr, BETA)
    call.ring()
    call.press("4")
    assert call.said[0] == "For a pay link by text message, press 1."  # no email channel: no statement
    menu_of_send = call.gather().get("action")
    call.press("1")
    assert call.said[0] == "We have sent a pay link by text message to the number you are calling from."
    [text] = ivr_twilio.requests
    assert (text.kind, text.to, text.from_) == ("sms", BETA, DESK_NUMBER)
    lines = text.body.splitlines()
    assert [line.split(", open ")[0] for line in lines] == ["Northwind Components Ltd: to pay €600.01",
                                                            "Northwind Components Ltd: to pay $900.45"]
    links = [unseal(line.split(f"{PUBLIC}/p/")[1], PORTAL.signing_key.get_secret_value(), TODAY) for line in lines]
    assert [(link.customer_id, link.currency) for link in links] == [("C2", "EUR"), ("C2", "USD")]
    # Twilio delivers the same keypress again: refused, nothing sent twice
    again = post(ivr, menu_of_send[len(PUBLIC):], call.params(Digits="1"))
    assert again.status_code == 403
    call.press("4")
    call.press("1")
    assert call.said[0] == "We have already sent it during this call."
    assert len(ivr_twilio.requests) == 1
    assert rows(warehouse, "SELECT channel, address, provider_id FROM ivr_sends") == [("sms", BETA, text.sid)]


def test_the_pay_link_text_asks_only_for_what_the_page_lets_the_customer_pay(ivr, warehouse, ivr_twilio):
    call = Caller(ivr, ACME)  # $1,250.00 open and $999.00 disputed in USD, €500.00 in EUR; Acme is in Germany
    call.ring()
    call.press("4")
    call.press("1")
    [text] = ivr_twilio.requests
    assert [line.split(", öffnen Sie ")[0] for line in text.body.splitlines()] == [
        "Northwind Components Ltd: Um 500,00\xa0€ zu zahlen", "Northwind Components Ltd: Um 1.250,00\xa0$ zu zahlen"]


def test_option_4_sends_no_text_to_a_number_opted_out_of_sms(ivr, warehouse, ivr_twilio):
    with warehouse.begin() as conn:
        conn.exec_driver_sql("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) VALUES "
                             f"('sms', '{BETA}', 'replied STOP by SMS', '2026-11-01 10:00:00')")
    call = Caller(ivr, BETA)
    call.ring()
    call.press("4")
    call.press("1")
    assert call.said[0] == "Text messages to this number are switched off, so we cannot send one."
    assert ivr_twilio.requests == []
    assert steps(warehouse, call)[-1][2] == "pay link not texted: the number opted out of sms (replied STOP by SMS)"


def test_option_4_sends_no_text_outside_the_contacts_hours_and_offers_the_email(warehouse, ivr_twilio, tmp_path):
    from blocks.email_channel import EmailChannel

    seed_ivr_world(warehouse)
    email = EmailChannel(host="127.0.0.1", port=9, security="none", from_address="ar@northwind.example")
    with serve(warehouse, hooks=webhooks(twilio_api=ivr_twilio.base_url, now=AFTER_HOURS, email=email)) as ivr:
        call = Caller(ivr, BETA)
        call.ring()
        call.press("4")
        assert call.said[:2] == ["For a pay link by text message, press 1.", "For a statement by email, press 2."]
        call.press("1")
    assert call.said[:2] == ["We do not send text messages at this hour of your day.",
                             "For a statement by email, press 2."]
    assert ivr_twilio.requests == []
    assert "outside the contact's hours" in steps(warehouse, call)[-1][2]


def test_option_4_emails_the_statement_pdf_to_the_accounts_ap_addresses(warehouse, ivr_twilio, tmp_path):
    from blocks.email_channel import EmailChannel
    from sandbox.smtp_relay import CaptureSmtpServer

    seed_ivr_world(warehouse)
    with warehouse.begin() as conn:  # another AP address; a sales contact and an opted-out address get nothing
        for n, (role, address) in enumerate([("Accounts Payable", "payables@c1.example"), ("Sales", "sales@c1.example"),
                                             ("AP", "left@c1.example")]):
            conn.execute(sa.text(
                "INSERT INTO contacts (contact_id, customer_id, role, name, email, phone, opt_out_email, "
                "opt_out_sms, opt_out_voice, row_hash, synced_at) VALUES (:k, 'C1', :r, 'Kim Roe', :e, NULL, "
                "FALSE, FALSE, FALSE, :n, '2026-11-23 02:00:00')"), {"k": f"C1-X{n}", "r": role, "e": address,
                                                                      "n": 100 + n})
        conn.execute(sa.text("INSERT INTO channel_opt_outs (channel, address, reason, recorded_at) VALUES "
                             "('email', 'left@c1.example', 'unsubscribed', '2026-11-01 10:00:00')"))
    with CaptureSmtpServer(tmp_path / "mail") as smtp:
        email = EmailChannel(host=smtp.host, port=smtp.port, security="none", from_address="ar@northwind.example")
        with serve(warehouse, hooks=webhooks(twilio_api=ivr_twilio.base_url, email=email)) as ivr:
            call = Caller(ivr, ACME)
            call.ring()
            call.press("4")
            call.press("2")
            assert call.said[0] == "Wir haben Ihren Kontoauszug an die hinterlegte E-Mail-Adresse gesendet."
            call.press("4")
            call.press("2")
            assert call.said[0] == "Das haben wir Ihnen in diesem Anruf bereits gesendet."
        [mail] = smtp.messages
    assert mail.rcpt_tos == ["ap0@c1.example", "payables@c1.example"]
    assert mail.message["Subject"] == "Northwind Components Ltd: Ihr Kontoauszug vom 23. November 2026"
    [pdf] = list(mail.message.iter_attachments())
    assert pdf.get_filename() == "statement-2026-11-23.pdf" and pdf.get_content().startswith(b"%PDF")
    assert ivr_twilio.requests == []
