"""The senders against real servers: what is retried, what is recorded as permanent, what stops a batch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from test_dunning_messages import COMPANY, POLICY

from tasks.dunning.channels import (
    AMBIGUOUS,
    EmailSender,
    ProviderRefusedCredentials,
    RelayUnreachable,
    TwilioSender,
    deliver,
    identify,
)
from tasks.dunning.messages import email_message, render, smtp_address
from tasks.dunning.plan import CoveredInvoice, PlannedMessage, Recipient

NO_WAIT = [0.0]


def mail_to(address: str):
    m = PlannedMessage("C1", "Acme", "Ann Lee", "USD", 1, "email", "friendly", "1-30", datetime.now(UTC).date(),
                       [CoveredInvoice("INV-1", datetime.now(UTC).date(), 10_000, 1, 1)],
                       [Recipient("K1", "Jo", address, "UTC")])
    return email_message(m, render(m, COMPANY, POLICY), "ar@northwind.example", "AR", None, POLICY,
                         datetime.now(UTC))


def test_a_451_is_retried_on_a_fresh_connection_and_a_554_is_not(sandbox):
    sender = EmailSender(sandbox.email, "arpilot-email-channel/test")
    sandbox.smtp.fail_next(2, 451)
    marks = []
    sent = deliver(lambda: sender.send(mail_to("jo@acme.example"), "ar@northwind.example", ["jo@acme.example"],
                                       lambda: marks.append(1)), 3, NO_WAIT)
    assert (sent.status, sent.attempts) == ("sent", 3)
    assert [m.rcpt_tos for m in sandbox.smtp.messages] == [["jo@acme.example"]]
    sandbox.smtp.fail_next(1, 554)
    refused = deliver(lambda: sender.send(mail_to("jo@acme.example"), "ar@northwind.example", ["jo@acme.example"],
                                          lambda: None), 3, NO_WAIT)
    assert (refused.status, refused.attempts) == ("failed", 1) and "554" in refused.reason
    sender.close()


def test_the_message_is_marked_handed_over_only_once_the_relay_has_all_of_it(sandbox):
    sender = EmailSender(sandbox.email, "arpilot-email-channel/test")
    seen_when_marked = []
    sender.send(mail_to("jo@acme.example"), "ar@northwind.example", ["jo@acme.example"],
                lambda: seen_when_marked.append(len(sandbox.smtp.messages)))
    assert seen_when_marked == [0] and len(sandbox.smtp.messages) == 1
    sender.close()


def test_international_addresses_go_out_with_smtputf8_and_idn_domains_in_ascii(sandbox):
    sender = EmailSender(sandbox.email, "arpilot-email-channel/test")
    for address in ("ap@bücher.de", "経理@例え.jp"):
        sender.send(mail_to(address), "ar@northwind.example", [smtp_address(address)], lambda: None)
    assert [m.rcpt_tos for m in sandbox.smtp.messages] == [["ap@xn--bcher-kva.de"], ["経理@xn--r8jz45g.jp"]]
    sender.close()


def test_a_refused_login_stops_the_batch_and_a_relay_that_is_down_is_retried_then_reported(sandbox):
    wrong = sandbox.email.model_copy(update={"password": SecretStr("nope-123")})
    with pytest.raises(ProviderRefusedCredentials, match="refused the login .535.; check username and password"):
        EmailSender(wrong, "arpilot-email-channel/prod").ready(3, NO_WAIT)
    down = sandbox.email.model_copy(update={"port": 9})
    with pytest.raises(RelayUnreachable, match="gave up after 2 tries: cannot reach SMTP relay"):
        EmailSender(down, "arpilot-email-channel/prod").ready(2, NO_WAIT)


@pytest.mark.parametrize(("failures", "status"), [(2, 503), (1, 429), (2, 500)])
def test_twilio_429_and_5xx_are_retried(sandbox, failures, status):
    sender = TwilioSender(sandbox.phone, "arpilot-twilio-channel/test")
    sandbox.twilio.fail_next(failures, status)
    sent = deliver(lambda: sender.sms("+12125550001", "Reminder"), 3, NO_WAIT)
    assert (sent.status, sent.attempts) == ("sent", failures + 1) and sent.provider_id.startswith("SM")
    assert [(r.kind, r.to) for r in sandbox.twilio.requests] == [("sms", "+12125550001")]


def test_texts_and_calls_ask_twilio_for_delivery_reports_where_the_channel_names_the_url(sandbox):
    url = "https://pay.northwind.example/twilio/status"
    reported = TwilioSender(sandbox.phone.model_copy(update={"status_callback_url": url}), "arpilot-twilio-channel/t")
    reported.sms("+12125550001", "Reminder", "C1:USD:2026-11-20 sms")
    reported.voice("+12125550001", "<Response/>")
    TwilioSender(sandbox.phone, "arpilot-twilio-channel/test").sms("+12125550002", "Reminder")
    assert [(r.kind, r.to, r.params.get("StatusCallback")) for r in sandbox.twilio.requests] == [
        ("sms", "+12125550001", f"{url}?outbox=C1%3AUSD%3A2026-11-20+sms"), ("voice", "+12125550001", url),
        ("sms", "+12125550002", None)]


def test_twilio_that_keeps_failing_is_given_up_after_the_last_try(sandbox):
    sender = TwilioSender(sandbox.phone, "arpilot-twilio-channel/test")
    sandbox.twilio.fail_next(3, 503)
    gave_up = deliver(lambda: sender.voice("+12125550001", "<Response/>"), 3, NO_WAIT)
    assert (gave_up.status, gave_up.attempts) == ("owed", 3) and "503" in gave_up.reason


def test_twilio_21610_is_an_opt_out_and_not_retried_and_other_4xx_are_permanent(sandbox):
    sender = TwilioSender(sandbox.phone, "arpilot-twilio-channel/test")
    sandbox.twilio.opted_out.add("+12125550009")
    stop = deliver(lambda: sender.sms("+12125550009", "Reminder"), 3, NO_WAIT)
    assert (stop.status, stop.attempts, stop.opted_out) == ("failed", 1, True) and "21610" in stop.reason
    sandbox.twilio.landlines.add("+12125550010")
    landline = deliver(lambda: sender.sms("+12125550010", "Reminder"), 3, NO_WAIT)
    assert (landline.status, landline.attempts, landline.opted_out) == ("failed", 1, False)
    assert sandbox.twilio.requests == []


def test_twilio_refusing_the_credentials_stops_the_batch_without_showing_the_token(sandbox):
    wrong = sandbox.phone.model_copy(update={"auth_token": SecretStr("stolen-token-99")})
    with pytest.raises(ProviderRefusedCredentials, match="check account_sid and auth_token") as refused:
        TwilioSender(wrong, "arpilot-twilio-channel/prod").sms("+12125550001", "Reminder")
    assert "stolen-token-99" not in str(refused.value)


def test_a_connection_lost_after_the_message_was_handed_over_is_unknown_and_never_resent():
    """A relay that takes the whole message and hangs up before answering: it may have queued it, so sending
    again could deliver it twice."""
    import socket
    import threading

    from blocks.email_channel import EmailChannel

    listener = socket.create_server(("127.0.0.1", 0))
    transactions = []

    def relay():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 relay ready\r\n")
                for line in lines:
                    if line.upper().startswith((b"EHLO", b"HELO")):
                        conn.sendall(b"250 relay\r\n")
                    elif line.upper().startswith(b"DATA"):
                        conn.sendall(b"354 go ahead\r\n")
                        transactions.append(b"".join(iter(lambda: lines.readline(), b".\r\n")))
                        break  # hang up without answering
                    else:
                        conn.sendall(b"250 ok\r\n")

    threading.Thread(target=relay, daemon=True).start()
    channel = EmailChannel(host="127.0.0.1", port=listener.getsockname()[1], security="none",
                           from_address="ar@northwind.example")
    sender = EmailSender(channel, "arpilot-email-channel/test")
    outcome = deliver(lambda: sender.send(mail_to("jo@acme.example"), "ar@northwind.example", ["jo@acme.example"],
                                          lambda: None), 3, NO_WAIT)
    listener.close()
    assert (outcome.status, outcome.attempts) == ("unknown", 1)
    assert "handed over" in outcome.reason and len(transactions) == 1


def test_after_a_crash_twilio_is_asked_whether_the_message_or_call_exists(sandbox):
    sender = TwilioSender(sandbox.phone, "arpilot-twilio-channel/test")
    reserved_at = datetime.now(UTC)
    sid = sender.sms("+12125550001", "Reminder")
    assert sender.listed("sms", "+12125550001", reserved_at) == [(sid, "Reminder")]
    assert sender.listed("voice", "+12125550001", reserved_at) == []  # no call was made
    assert sender.listed("sms", "+12125550002", reserved_at) == []  # nor a text to anyone else


def test_a_lost_text_is_not_confirmed_with_another_message_to_the_same_number(sandbox):
    """Two customers share a number (or one customer is texted in two currencies): each message is known by its
    text, and a sid another outbox row holds is never taken for a lost one."""
    sender = TwilioSender(sandbox.phone, "arpilot-twilio-channel/test")
    since = datetime.now(UTC)
    acme = sender.sms("+12125550001", "Acme owes $100.00")
    listed = sender.listed("sms", "+12125550001", since)
    ours = [("acme|sms", "Acme owes $100.00"), ("bolt|sms", "Bolt owes $5.00")]
    assert identify(ours, listed, set()) == {"acme|sms": acme, "bolt|sms": None}
    assert identify(ours[1:], listed, {acme}) == {"bolt|sms": None}
    # A text to the number that is neither ours nor claimed may be ours re-encoded: neither confirmed nor resent.
    assert identify(ours[1:], listed, set()) == {"bolt|sms": AMBIGUOUS}
    # Calls carry nothing Twilio returns: a call another row holds is never ours; an unclaimed one is.
    call = sender.voice("+12125550001", "<Response/>")
    calls = sender.listed("voice", "+12125550001", since)
    assert identify([("bolt|voice", None)], calls, {call}) == {"bolt|voice": None}
    assert identify([("bolt|voice", None)], calls, set()) == {"bolt|voice": call}
    assert identify([("acme|voice", None), ("bolt|voice", None)], calls, set()) == {"acme|voice": AMBIGUOUS,
                                                                                  "bolt|voice": AMBIGUOUS}


def test_a_twilio_request_that_times_out_is_looked_up_before_it_is_tried_again(sandbox):
    """Twilio created the text but answered too late: trying again would text the customer twice."""
    slow = sandbox.phone.model_copy(update={"timeout_seconds": 0.3})
    sender = TwilioSender(slow, "arpilot-twilio-channel/test")
    sandbox.twilio.answer_late(1, 1.0)
    sent = deliver(lambda: sender.sms("+12125550001", "Reminder"), 3, NO_WAIT)
    [request] = sandbox.twilio.requests
    assert (sent.status, sent.attempts, sent.provider_id) == ("sent", 1, request.sid)
