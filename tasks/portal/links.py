"""Signed pay links: a sealed, expiring token per customer and currency, nothing readable or guessable in the URL.

The token is AES-256-GCM over "expiry|currency|customer id" (authenticated encryption: any change fails the tag),
with a key derived from the portal's signing key by HMAC-SHA256, and a synthetic nonce (HMAC of the plaintext) so
the same reminder always carries the same link. No warehouse row per link: links are made while messages are
rendered, where nothing is written, and a leaked warehouse reveals no live link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from blocks.pay_portal import PayPortal

VERSION = b"\x01"
EPOCH = date(1970, 1, 1)


class LinkRefused(ValueError):
    """A pay link that is altered, expired or sealed with another key: the customer sees no data, only this."""


@dataclass(frozen=True)
class PayLink:
    customer_id: str
    currency: str | None  # the currency the reminder was about; the page shows every currency
    expires_on: date


def _keys(signing_key: str) -> tuple[bytes, bytes]:
    """An encryption key and a nonce key, both derived from the one secret, never used for anything else."""
    secret = signing_key.encode()
    return (hmac.new(secret, b"arpilot pay link: encryption", hashlib.sha256).digest(),
            hmac.new(secret, b"arpilot pay link: nonce", hashlib.sha256).digest())


def seal(link: PayLink, signing_key: str) -> str:
    plain = f"{(link.expires_on - EPOCH).days}|{link.currency or ''}|{link.customer_id}".encode()
    key, nonce_key = _keys(signing_key)
    nonce = hmac.new(nonce_key, plain, hashlib.sha256).digest()[:12]
    sealed = VERSION + nonce + AESGCM(key).encrypt(nonce, plain, VERSION)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def unseal(token: str, signing_key: str, today: date) -> PayLink:
    """The link's customer, or LinkRefused; expired means past the end of its expiry day."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise LinkRefused("not a pay link") from None
    if len(raw) < 1 + 12 + 16 or raw[:1] != VERSION:
        raise LinkRefused("not a pay link")
    key, _ = _keys(signing_key)
    try:
        plain = AESGCM(key).decrypt(raw[1:13], raw[13:], VERSION).decode()
    except (InvalidTag, UnicodeDecodeError):
        raise LinkRefused("altered, or sealed with another key") from None
    days, currency, customer_id = plain.split("|", 2)
    link = PayLink(customer_id, currency or None, EPOCH + timedelta(days=int(days)))
    if link.expires_on < today:
        raise LinkRefused("expired")
    return link


def pay_link(portal: PayPortal, customer_id: str, currency: str | None, issued_on: date) -> str:
    """The URL a reminder sent on ``issued_on`` carries: valid for the portal's link lifetime."""
    link = PayLink(customer_id, currency, issued_on + timedelta(days=portal.link_lifetime_days))
    return f"{portal.base_url}/p/{seal(link, portal.signing_key.get_secret_value())}"
