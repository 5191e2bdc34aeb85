"""Provider rate limits as Prefect global concurrency limits (a real Prefect API, a real SMTP relay, the local
Twilio-compatible server and localstripe): a channel block's rate holds for its requests, and the limit is what the
UI shows."""

from __future__ import annotations

import time
from email.message import EmailMessage

from prefect.client.orchestration import get_client

from blocks.rate_limits import limit_name
from tasks.dunning.channels import EmailSender, TwilioSender


def mail(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ar@northwind.example", "ap@acme.example", f"Reminder {n}"
    message.set_content("Please pay.")
    return message


def test_an_email_channels_rate_spaces_its_messages_and_is_a_global_limit(prefect_api, sandbox):
    channel = sandbox.email.model_copy(update={"messages_per_second": 4.0})
    sender = EmailSender(channel, "arpilot-email-channel/rated")
    try:
        started = time.monotonic()
        for n in range(12):
            sender.send(mail(n), "ar@northwind.example", ["ap@acme.example"], lambda: None)
        elapsed = time.monotonic() - started
    finally:
        sender.close()
    assert len(sandbox.smtp.messages) == 12
    assert elapsed >= 1.8, f"12 messages at 4 per second (a burst of 4, then 8 at 4/s) took only {elapsed:.2f} s"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(limit_name("arpilot-email-channel/rated"))
    assert (limit.name, limit.limit, limit.slot_decay_per_second) == ("rate-arpilot-email-channel-rated", 4, 4.0)


def test_a_channel_without_a_rate_is_not_held_back(prefect_api, sandbox):
    sender = EmailSender(sandbox.email, "arpilot-email-channel/unrated")
    try:
        started = time.monotonic()
        for n in range(12):
            sender.send(mail(n), "ar@northwind.example", ["ap@acme.example"], lambda: None)
        assert time.monotonic() - started < 1.5
    finally:
        sender.close()


def test_twilios_rate_spaces_texts(prefect_api, sandbox):
    sender = TwilioSender(sandbox.phone.model_copy(update={"requests_per_second": 5.0}), "arpilot-twilio-channel/rt")
    started = time.monotonic()
    for n in range(10):
        sender.sms("+12125550001", f"Reminder {n}")
    assert time.monotonic() - started >= 0.8  # a burst of 5, then 5 more at 5 per second
    assert len(sandbox.twilio.requests) == 10


def test_the_gateways_rate_spaces_requests_to_stripe(prefect_api):
    from flows.demo import demo_gateway
    from sandbox.stripe_api import StripeTestServer

    with StripeTestServer() as stripe_server:
        gateway = demo_gateway(stripe_server.base_url).model_copy(update={"requests_per_second": 5.0})
        client = gateway.client()
        started = time.monotonic()
        for n in range(10):
            client.v1.customers.create(params={"name": f"Customer {n}"})
        assert time.monotonic() - started >= 0.8  # a burst of 5, then 5 more at 5 per second
    with get_client(sync_client=True) as api:
        limit = api.read_global_concurrency_limit_by_name("rate-arpilot-payment-gateway-unsaved")
    assert limit.slot_decay_per_second == 5.0
