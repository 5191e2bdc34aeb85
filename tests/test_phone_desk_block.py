"""The phone desk's configuration through Prefect: saved with its Twilio account and dunning policy nested,
loaded by `arpilot serve`, which then answers Twilio's webhooks at the portal's public address."""

from __future__ import annotations

import argparse
from datetime import time

import pytest
from pydantic import ValidationError
from selfservice_cases import COMPANY, PORTAL, TOKEN, webhooks

from blocks import DEFAULT_PHONE_DESK, BlockNotFound
from blocks.escalation_policy import EscalationPolicy
from blocks.phone_desk import PhoneDesk
from flows.cli import _phone_webhooks


def serve_args(phone_desk: str) -> argparse.Namespace:
    return argparse.Namespace(phone_desk=phone_desk, escalation_policy="arpilot-escalation-policy/phone-desk-test")


def test_serve_answers_twilio_with_the_saved_phone_desk(prefect_api, capsys):
    webhooks().phone.save("arpilot", overwrite=True)
    EscalationPolicy(ar_managers=["ar-manager@northwind.example"], promise_grace_days=5).save("phone-desk-test",
                                                                                             overwrite=True)
    try:
        hooks = _phone_webhooks(serve_args(DEFAULT_PHONE_DESK), COMPANY, PORTAL)
    finally:
        PhoneDesk.delete("arpilot")
    assert hooks.auth_token == TOKEN
    assert hooks.public_base_url == PORTAL.base_url  # where Twilio is told to post, and what it signs
    assert hooks.desk.promise_grace_days == 5
    assert hooks.phone.collector_line("Ann Lee") == "+13125550111"
    assert hooks.phone.collector_line("Nobody Here") == "+13125550100"  # the AR desk's line
    assert TOKEN not in repr(hooks) and TOKEN not in capsys.readouterr().out
    # Without the default block, serve runs the portal alone and says so; a named block that is missing is an error.
    assert _phone_webhooks(serve_args(DEFAULT_PHONE_DESK), COMPANY, PORTAL) is None
    assert "Twilio's webhooks are off: no arpilot-phone-desk/arpilot block" in capsys.readouterr().out
    with pytest.raises(BlockNotFound, match="arpilot-phone-desk/none-saved does not exist"):
        _phone_webhooks(serve_args("arpilot-phone-desk/none-saved"), COMPANY, PORTAL)


def test_collectors_lines_are_dialled_as_twilio_dials_them():
    phone = webhooks().phone
    readable = phone.dunning_policy.model_copy(update={"ar_phone": "+1 (312) 555-0100", "collector_phones": {
        "Ann Lee": "+1 312 555 0111"}})
    dialled = phone.model_copy(update={"dunning_policy": readable})
    assert dialled.collector_line("Ann Lee") == "+13125550111"
    assert dialled.collector_line(None) == "+13125550100"
    nobody = phone.model_copy(update={"dunning_policy": readable.model_copy(update={"ar_phone": ""})})
    assert nobody.collector_line("Bo Chen") is None


def test_collectors_hours_must_make_a_day():
    with pytest.raises(ValidationError, match="collector_hours_start 17:00:00 must be before"):
        PhoneDesk(**{**webhooks().phone.model_dump(), "collector_hours_start": time(17), "collector_hours_end":
                     time(9)})
