"""Signed pay links: only the portal's key opens them, only until they expire, and they name no customer."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from portal_cases import KEY, PORTAL, TODAY
from test_dunning_messages import COMPANY, POLICY, message

from tasks.dunning.messages import render
from tasks.portal.links import LinkRefused, PayLink, pay_link, seal, unseal


def token_of(url: str) -> str:
    return url.rsplit("/p/", 1)[1]


def test_a_link_opens_to_its_customer_and_currency_until_the_end_of_its_last_day():
    url = pay_link(PORTAL, "C000935", "USD", TODAY)
    assert url.startswith("https://pay.northwind.example/p/")
    link = unseal(token_of(url), KEY, TODAY + timedelta(days=45))
    assert link == PayLink("C000935", "USD", TODAY + timedelta(days=45))
    with pytest.raises(LinkRefused, match="expired"):
        unseal(token_of(url), KEY, TODAY + timedelta(days=46))


def test_the_url_names_no_customer_and_the_same_reminder_gets_the_same_link():
    url = pay_link(PORTAL, "C000935", "USD", TODAY)
    raw = base64.urlsafe_b64decode(token_of(url) + "==")
    assert b"C000935" not in raw and "C000935" not in url and "USD" not in url
    assert pay_link(PORTAL, "C000935", "USD", TODAY) == url
    assert len({pay_link(PORTAL, c, "USD", TODAY) for c in ("C000935", "C000936", "C000934")}) == 3
    assert len(url) < 110  # fits an SMS


def test_every_altered_byte_is_refused():
    token = seal(PayLink("C1", "EUR", TODAY), KEY)
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    for position in range(len(raw)):
        changed = bytearray(raw)
        changed[position] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        with pytest.raises(LinkRefused):
            unseal(forged, KEY, TODAY)


@pytest.mark.parametrize("token", ["", "x", "not-a-link", "AAAA", "%2e%2e", "C1", "A" * 200, "====", "\u00e9t\u00e9"])
def test_garbage_is_refused(token):
    with pytest.raises(LinkRefused):
        unseal(token, KEY, TODAY)


def test_a_link_sealed_with_another_key_is_refused():
    with pytest.raises(LinkRefused, match="another key"):
        unseal(seal(PayLink("C1", None, TODAY), "another-key-of-the-same-length-000000000"), KEY, TODAY)


def test_reminders_carry_the_portal_link_when_the_policy_names_a_portal():
    with_portal = POLICY.model_copy(update={"pay_portal": PORTAL})
    rendered = render(message(), COMPANY, with_portal)
    link = pay_link(PORTAL, "C-7", "USD", TODAY)
    assert link in rendered.text and link in rendered.html and "C-7?c=USD" not in rendered.text
    assert unseal(token_of(link), KEY, TODAY).customer_id == "C-7"
    assert link in render(message(channel="sms"), COMPANY, with_portal).text
    assert "https://pay.northwind.example/C-7?c=USD" in render(message(), COMPANY, POLICY).text  # no portal: as before

