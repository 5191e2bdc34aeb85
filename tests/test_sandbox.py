"""The sandbox servers answer the real smtplib/yagmail and twilio clients the way the real services would."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
import yagmail
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sandbox.smtp_relay import CaptureSmtpServer
from sandbox.store import read_received, read_refused
from sandbox.twilio_api import TwilioTestServer

ROOT = Path(__file__).resolve().parent.parent
SID = "AC" + "1" * 32
TOKEN = "test-token"
SENDER = "ar@northwind.example"
CUSTOMER = "ap@customer.example"


class SandboxHttpClient(TwilioHttpClient):
    """The twilio client has no base-URL option: send what it addresses to api.twilio.com to the sandbox instead.

    Keeps the last response too, as TwilioRestException carries no headers (Retry-After).
    """

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url
        self.last_response = None

    def request(self, method, url, *args, **kwargs):
        url = url.replace("https://api.twilio.com", self.base_url, 1)
        self.last_response = super().request(method, url, *args, **kwargs)
        return self.last_response


def twilio_client(base_url: str, account_sid: str = SID, auth_token: str = TOKEN) -> Client:
    return Client(account_sid, auth_token, http_client=SandboxHttpClient(base_url))


def reminder(to: str = CUSTOMER) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, to, "Invoice INV-1001 is overdue"
    message.set_content("Please pay INV-1001 (USD 1,250.00).\n")
    return message


def yagmail_client(smtp: CaptureSmtpServer, password: str | None = None) -> yagmail.SMTP:
    """Plain SMTP on the sandbox port; without a password skip login, or yagmail asks the keyring and then a tty."""
    return yagmail.SMTP(
        SENDER, password, host=smtp.host, port=smtp.port, smtp_ssl=False, smtp_starttls=False,
        smtp_skip_login=password is None,
    )


@pytest.fixture
def smtp(tmp_path):
    with CaptureSmtpServer(tmp_path / "mail") as server:
        yield server


@pytest.fixture
def authenticated_smtp(tmp_path):
    with CaptureSmtpServer(tmp_path / "mail", username=SENDER, password="s3cret") as server:
        yield server


@pytest.fixture
def twilio(tmp_path):
    with TwilioTestServer(tmp_path / "twilio", SID, TOKEN) as server:
        yield server


def test_smtplib_without_auth_stores_the_raw_message(smtp, tmp_path):
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        client.send_message(reminder())

    [mail] = smtp.messages
    assert (mail.mail_from, mail.rcpt_tos) == (SENDER, [CUSTOMER])
    assert mail.message["Subject"] == "Invoice INV-1001 is overdue"
    assert "INV-1001 (USD 1,250.00)" in mail.message.get_content()
    assert mail.path == tmp_path / "mail" / "000001.eml"
    assert mail.path.read_bytes() == mail.raw


def test_yagmail_without_auth(smtp):
    with yagmail_client(smtp) as client:
        assert client.send(CUSTOMER, "Statement", "Your statement is attached.") == {}

    [mail] = smtp.messages
    assert mail.message["To"] == CUSTOMER and mail.message["Subject"] == "Statement"


def test_yagmail_with_auth(authenticated_smtp):
    with smtplib.SMTP(authenticated_smtp.host, authenticated_smtp.port) as client:
        client.ehlo()
        assert set(client.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}

    with yagmail_client(authenticated_smtp, "s3cret") as client:
        client.send(CUSTOMER, "Reminder", "Friendly reminder.")

    assert [m.message["Subject"] for m in authenticated_smtp.messages] == ["Reminder"]


def test_wrong_password_and_missing_login_are_refused(authenticated_smtp):
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        yagmail_client(authenticated_smtp, "wrong").login()
    assert refused.value.smtp_code == 535

    with (smtplib.SMTP(authenticated_smtp.host, authenticated_smtp.port) as client,
          pytest.raises(smtplib.SMTPSenderRefused) as unauthenticated):
        client.send_message(reminder())
    assert unauthenticated.value.smtp_code == 530
    assert authenticated_smtp.messages == []


@pytest.mark.parametrize("code", [451, 554])
def test_fail_next_refuses_data_then_accepts(smtp, tmp_path, code):
    smtp.fail_next(1, code)
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            client.send_message(reminder())
        assert failed.value.smtp_code == code
        assert smtp.messages == [] and [m.path.name for m in smtp.refused] == ["000001.refused"]
        assert read_received(tmp_path)[0] == [] and len(read_refused(tmp_path)[0]) == 1

        client.send_message(reminder())
    assert [m.path.name for m in smtp.messages] == ["000002.eml"]


def test_reject_recipients_answers_at_rcpt(smtp):
    smtp.reject_recipients["gone@customer.example"] = 550
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(reminder("gone@customer.example"))
        assert refused.value.recipients["gone@customer.example"][0] == 550

        # One bad address among several: smtplib does not raise, it returns the refusals and the rest is delivered.
        assert client.sendmail(SENDER, [CUSTOMER, "gone@customer.example"], reminder().as_bytes()) == {
            "gone@customer.example": (550, b"5.1.1 <gone@customer.example>: Recipient address rejected")
        }
    [mail] = smtp.messages
    assert mail.rcpt_tos == [CUSTOMER]


def test_sender_dying_mid_message_stores_nothing(smtp):
    dying = smtplib.SMTP(smtp.host, smtp.port)
    dying.ehlo()
    dying.mail(SENDER)
    dying.rcpt(CUSTOMER)
    dying.putcmd("data")
    assert dying.getreply()[0] == 354
    dying.send(b"Subject: half a message\r\n")
    dying.sock.close()

    with smtplib.SMTP(smtp.host, smtp.port) as client:
        client.send_message(reminder())
    [mail] = smtp.messages
    assert (mail.message["Subject"], mail.path.name) == ("Invoice INV-1001 is overdue", "000001.eml")


def test_restart_on_the_same_folder_continues_numbering(tmp_path):
    for _ in range(2):
        with CaptureSmtpServer(tmp_path / "mail") as smtp, smtplib.SMTP(smtp.host, smtp.port) as client:
            client.send_message(reminder())
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["000001.eml", "000002.eml"]


def test_twilio_sms_and_call(twilio, tmp_path):
    client = twilio_client(twilio.base_url)

    message = client.messages.create(to="+15551230001", from_="+15557650000", body="Invoice INV-1001 is overdue.")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.to, message.from_) == ("queued", "+15551230001", "+15557650000")
    assert message.num_segments == "1"
    assert message.account_sid == SID and message.date_created.tzinfo is not None

    via_service = client.messages.create(to="+15551230001", messaging_service_sid="MG" + "2" * 32, body="ł" * 71)
    assert via_service.messaging_service_sid == "MG" + "2" * 32 and via_service.num_segments == "2"

    twiml = "<Response><Say>Your invoice is overdue.</Say></Response>"
    call = client.calls.create(to="+15551230002", from_="+15557650000", twiml=twiml)
    assert call.sid.startswith("CA") and call.status == "queued"

    sms, service_sms, voice = twilio.requests
    assert (sms.kind, sms.sid, sms.body) == ("sms", message.sid, "Invoice INV-1001 is overdue.")
    assert service_sms.from_ is None and service_sms.messaging_service_sid == "MG" + "2" * 32
    assert (voice.kind, voice.sid, voice.twiml, voice.path.name) == ("voice", call.sid, twiml, "000003-voice.json")
    assert json.loads(sms.path.read_text())["to"] == "+15551230001"
    assert sms.path == tmp_path / "twilio" / "000001-sms.json"


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [("+15550000001", 400, 21610), ("+15550000002", 400, 21614), ("555-0100", 400, 21211)],
)
def test_twilio_refusals(twilio, to, status, code):
    twilio.opted_out.add("+15550000001")
    twilio.landlines.add("+15550000002")
    with pytest.raises(TwilioRestException) as refused:
        twilio_client(twilio.base_url).messages.create(to=to, from_="+15557650000", body="Hello")
    assert (refused.value.status, refused.value.code) == (status, code)
    assert twilio.requests == []


def test_twilio_landline_takes_calls(twilio):
    twilio.landlines.add("+15550000002")
    call = twilio_client(twilio.base_url).calls.create(to="+15550000002", from_="+15557650000", url="https://x.test/t")
    assert call.status == "queued" and twilio.requests[0].url == "https://x.test/t"


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20500)])
def test_twilio_fail_next(twilio, status, code):
    twilio.fail_next(1, status)
    client = twilio_client(twilio.base_url)
    with pytest.raises(TwilioRestException) as failed:
        client.messages.create(to="+15551230001", from_="+15557650000", body="Hello")
    assert (failed.value.status, failed.value.code) == (status, code)
    if status == 429:
        assert client.http_client.last_response.headers["Retry-After"] == "1"
    assert twilio.requests == []  # the refusal is logged (000001.refused), not kept as a request

    client.messages.create(to="+15551230001", from_="+15557650000", body="Hello")
    assert [r.path.name for r in twilio.requests] == ["000002-sms.json"]


@pytest.mark.parametrize(("account_sid", "token"), [(SID, "wrong"), ("AC" + "9" * 32, TOKEN)])
def test_twilio_wrong_credentials_are_401(twilio, account_sid, token):
    with pytest.raises(TwilioRestException) as refused:
        twilio_client(twilio.base_url, account_sid, token).messages.create(
            to="+15551230001", from_="+15557650000", body="Hello"
        )
    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert twilio.requests == []


def test_twilio_concurrent_requests_get_distinct_files(twilio, tmp_path):
    client = twilio_client(twilio.base_url)
    senders = [
        threading.Thread(
            target=client.messages.create, kwargs={"to": f"+1555123{n:04d}", "from_": "+15557650000", "body": "Hello"}
        )
        for n in range(12)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert len({r.sid for r in twilio.requests}) == 12
    assert sorted(p.name for p in (tmp_path / "twilio").iterdir()) == [f"{n:06d}-sms.json" for n in range(1, 13)]


def test_command_line_serves_from_its_own_process(tmp_path):
    command = [sys.executable, "-m", "sandbox", "--folder", str(tmp_path), "--account-sid", SID,
               "--auth-token", TOKEN, "--smtp-user", SENDER, "--smtp-password", "s3cret"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        endpoints = json.loads(process.stdout.readline())
        with smtplib.SMTP("127.0.0.1", endpoints["smtp_port"]) as client:
            client.login(SENDER, "s3cret")
            client.send_message(reminder())
        twilio_client(endpoints["twilio_url"]).messages.create(to="+15551230001", from_="+15557650000", body="Hi")
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0

    mails, requests = read_received(tmp_path)
    assert [m["Subject"] for m in mails] == ["Invoice INV-1001 is overdue"]
    assert [(r["kind"], r["to"], r["body"]) for r in requests] == [("sms", "+15551230001", "Hi")]


def test_twilio_lists_what_it_accepted_by_recipient_and_time_for_a_run_that_must_reconcile(tmp_path):
    """How a run that died during a call learns whether the message went out: list by To and creation time."""
    from datetime import UTC, datetime, timedelta

    from blocks.twilio_channel import TwilioChannel

    with TwilioTestServer(tmp_path, "AC" + "1" * 32, "token") as server:
        channel = TwilioChannel(account_sid="AC" + "1" * 32, auth_token="token", from_number="+13125550100",
                                api_base_url=server.base_url)
        client = channel.client()
        before = datetime.now(UTC) - timedelta(seconds=1)
        sms = client.messages.create(to="+12125550001", from_="+13125550100", body="hello")
        client.messages.create(to="+12125550002", from_="+13125550100", body="other")
        call = client.calls.create(to="+12125550001", from_="+13125550100", twiml="<Response/>")
        assert [m.sid for m in client.messages.list(to="+12125550001", date_sent_after=before)] == [sms.sid]
        assert client.messages.list(to="+12125550001", date_sent_after=datetime.now(UTC) + timedelta(minutes=1)) == []
        assert [c.sid for c in client.calls.list(to="+12125550001", start_time_after=before)] == [call.sid]


def test_a_fault_share_refuses_about_that_share_of_sends_for_now_and_logs_each_refusal(tmp_path):
    """The crash tests' busy providers: a seeded share of DATA answered 451 and of creates 503 or 429."""
    from twilio.base.exceptions import TwilioRestException

    with (CaptureSmtpServer(tmp_path / "mail", fault_share=0.3, fault_seed=7) as relay,
          TwilioTestServer(tmp_path / "twilio", SID, TOKEN, fault_share=0.3, fault_seed=8) as api):
        codes, statuses = [], []
        with smtplib.SMTP(relay.host, relay.port) as client:
            for _ in range(60):
                try:
                    client.send_message(reminder())
                    codes.append(250)
                except smtplib.SMTPDataError as e:
                    codes.append(e.smtp_code)
        texts = twilio_client(api.base_url)
        for _ in range(60):
            try:
                texts.messages.create(to="+12125550123", from_="+13125550100", body="Reminder")
                statuses.append(201)
            except TwilioRestException as e:
                statuses.append(e.status)
    assert set(codes) == {250, 451} and 8 <= codes.count(451) <= 30
    assert set(statuses) == {201, 503, 429} and 8 <= len(statuses) - statuses.count(201) <= 30
    mails, refused_texts = read_refused(tmp_path)
    assert len(mails) == codes.count(451) and len(read_received(tmp_path)[0]) == codes.count(250)
    assert sorted(r["status"] for r in refused_texts) == sorted(s for s in statuses if s != 201)
    assert len(read_received(tmp_path)[1]) == statuses.count(201)
