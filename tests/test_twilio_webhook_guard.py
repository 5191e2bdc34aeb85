"""Twilio's webhooks believe only what Twilio signed, for this URL, once: forged, altered, unsigned, misdirected
and replayed requests all get 403 and leave no trace in the warehouse."""

from __future__ import annotations

import base64

import pytest
from selfservice_cases import ACME, PUBLIC, TOKEN, counts, post, seed_world, serve, signature, sms_params

pytestmark = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)

SMS, STATUS = "/twilio/sms", "/twilio/status"
TEXT = sms_params(ACME, "Can you send me a copy of INV-1?")
DELIVERED = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "To": ACME, "AccountSid": "AC" + "1" * 32}


def altered(params: dict, **changes) -> dict:
    return {k: v for k, v in {**params, **changes}.items() if v is not None}


# (path, params sent, how it is signed): each must be refused.
REFUSED = {
    "forged: another token": (SMS, TEXT, {"token": "someone-elses-token"}),
    "forged: another token, status": (STATUS, DELIVERED, {"token": "someone-elses-token"}),
    "forged: empty token": (SMS, TEXT, {"token": ""}),
    "forged: random signature": (SMS, TEXT, {"header": base64.b64encode(b"x" * 20).decode()}),
    "forged: signature is not base64": (SMS, TEXT, {"header": "not a signature"}),
    "forged: signed with HMAC-SHA256": (SMS, TEXT, {"header": "sha256"}),
    "altered: body": (SMS, altered(TEXT, Body="STOP"), {"sign": TEXT}),
    "altered: sender": (SMS, altered(TEXT, From="+12125550001"), {"sign": TEXT}),
    "altered: message sid": (SMS, altered(TEXT, MessageSid="SM" + "c" * 32), {"sign": TEXT}),
    "altered: recipient": (SMS, altered(TEXT, To="+13125550999"), {"sign": TEXT}),
    "altered: parameter added": (SMS, altered(TEXT, Extra="1"), {"sign": TEXT}),
    "altered: parameter removed": (SMS, altered(TEXT, NumMedia=None), {"sign": TEXT}),
    "altered: letter case": (SMS, altered(TEXT, Body=TEXT["Body"].upper()), {"sign": TEXT}),
    "altered: status": (STATUS, altered(DELIVERED, MessageStatus="undelivered"), {"sign": DELIVERED}),
    "altered: error code added": (STATUS, altered(DELIVERED, ErrorCode="30003"), {"sign": DELIVERED}),
    "missing: no signature": (SMS, TEXT, {"header": None}),
    "missing: empty signature": (SMS, TEXT, {"header": ""}),
    "missing: no signature, status": (STATUS, DELIVERED, {"header": None}),
    "wrong url: http, not https": (SMS, TEXT, {"url": PUBLIC.replace("https", "http") + SMS}),
    "wrong url: another host": (SMS, TEXT, {"url": "https://evil.example" + SMS}),
    "wrong url: the other webhook": (SMS, TEXT, {"url": PUBLIC + STATUS}),
    "wrong url: a query added": (SMS, TEXT, {"url": PUBLIC + SMS + "?x=1"}),
    "wrong url: trailing slash": (SMS, TEXT, {"url": PUBLIC + SMS + "/"}),
}


@pytest.fixture
def http(warehouse):
    seed_world(warehouse)
    with serve(warehouse) as client:
        yield client


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_request_twilio_did_not_sign_for_this_url_is_refused_and_records_nothing(http, warehouse, case):
    path, params, how = REFUSED[case]
    before = counts(warehouse)
    if how.get("header") == "sha256":
        from twilio.request_validator import RequestValidator

        how = {"header": RequestValidator(TOKEN).compute_signature(PUBLIC + path, params, "HMAC_SHA256")}
    answer = post(http, path, params, **how)
    assert answer.status_code == 403 and answer.text == "Forbidden"
    assert counts(warehouse) == before


def test_the_same_request_again_is_a_replay(http, warehouse):
    assert post(http, SMS, TEXT).status_code == 200
    after_first = counts(warehouse)
    assert after_first["sms_inbound"] == 1 and after_first["collector_worklist"] == 1
    for _ in range(3):
        assert post(http, SMS, TEXT).status_code == 403
    assert counts(warehouse) == after_first


def test_a_status_callback_replayed_is_refused_but_the_next_status_of_that_message_is_not(http, warehouse):
    sent = {**DELIVERED, "MessageStatus": "sent"}
    assert post(http, STATUS, sent).status_code == 200
    assert post(http, STATUS, sent).status_code == 403
    assert post(http, STATUS, DELIVERED).status_code == 200
    assert post(http, STATUS, DELIVERED).status_code == 403


def test_a_replayed_stop_cannot_undo_a_later_start(http, warehouse):
    stop, start = sms_params(ACME, "STOP", "SM" + "1" * 32), sms_params(ACME, "START", "SM" + "2" * 32)
    assert [post(http, SMS, p).status_code for p in (stop, start)] == [200, 200]
    assert post(http, SMS, stop).status_code == 403
    assert counts(warehouse)["channel_opt_outs"] == 0


def test_a_replay_after_other_traffic_is_still_refused(http, warehouse):
    first = sms_params(ACME, "BAL", "SM" + "3" * 32)
    assert post(http, SMS, first).status_code == 200
    for n in range(4, 7):
        assert post(http, SMS, sms_params(ACME, "BAL", f"SM{n}" + "0" * 31)).status_code == 200
    assert post(http, SMS, first).status_code == 403


def test_without_a_public_address_the_url_the_request_came_in_on_is_the_one_signed(warehouse):
    seed_world(warehouse)
    with serve(warehouse, public=None) as http:
        assert post(http, SMS, TEXT, url=PUBLIC + SMS).status_code == 403
        assert post(http, SMS, TEXT, url="http://testserver" + SMS).status_code == 200


def test_signature_helper_is_twilios(http):
    """The valid requests above are signed by the twilio library itself, not by a copy of its algorithm."""
    assert signature(SMS, TEXT) == __import__("twilio.request_validator").request_validator.RequestValidator(
        TOKEN).compute_signature(PUBLIC + SMS, TEXT)
