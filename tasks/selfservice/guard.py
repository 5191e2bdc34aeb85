"""Which Twilio webhook requests are believed: signed by Twilio for this very URL, and never seen before.

The signature is Twilio's own (``X-Twilio-Signature``, checked by the twilio library's RequestValidator with the
account's auth token) over the URL Twilio was configured with and every POST parameter. A request without it,
signed with another token, for another URL, or with any parameter added, removed or changed is refused.

Replays. Twilio signs no timestamp, so a captured request would validate forever. The rule: a request is
identified by the SHA-256 of its path, query and sorted parameters (which always carry a MessageSid or CallSid, and
for status callbacks the status): an accepted request's digest is written to ``twilio_webhook_requests`` in the
same transaction as what the request records, and the same digest again within ``REPLAY_WINDOW`` is refused with
403. A request that fails half-way leaves no digest, so Twilio's own retry of it is still accepted. After the
window the handlers' own keys (MessageSid on sms_inbound, the worklist's item_key) still stop a double record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from twilio.request_validator import RequestValidator

from tasks import warehouse as wh

REPLAY_WINDOW = timedelta(days=30)
SIGNATURE_HEADER = "x-twilio-signature"


class RequestRefused(Exception):
    """A webhook request that is not believed; the message says why, for the log only (the caller gets 403)."""


@dataclass(frozen=True)
class SignedRequest:
    url: str  # the URL Twilio signed: the public one, as configured in Twilio's console
    params: tuple[tuple[str, str], ...]  # every POST parameter, in order, repeated names kept

    def form(self) -> dict[str, str]:
        return dict(self.params)

    def digest(self, path: str) -> str:
        return hashlib.sha256("\n".join([path, *(f"{k}={v}" for k, v in sorted(self.params))]).encode()).hexdigest()


class _Params(dict):
    """Parameters with repeated names, as RequestValidator reads them (it asks for ``getlist``)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]):
        super().__init__(pairs)
        self._pairs = pairs

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]


def public_url(base_url: str | None, request_url: str, path: str, query: str) -> str:
    """The URL Twilio signed: ``base_url`` (the webhooks' public address behind the TLS proxy) + path + query, or
    the URL the request came in on when no public address is configured."""
    if not base_url:
        return request_url
    return base_url.rstrip("/") + path + (f"?{query}" if query else "")


def check_signature(auth_token: str, request: SignedRequest, signature: str | None) -> None:
    """Raise RequestRefused unless Twilio signed exactly this URL and these parameters with ``auth_token``."""
    if not signature:
        raise RequestRefused("no X-Twilio-Signature")
    if not RequestValidator(auth_token).validate(request.url, _Params(list(request.params)), signature):
        raise RequestRefused("X-Twilio-Signature does not match the URL and parameters")


def remember(conn: Connection, request: SignedRequest, path: str) -> None:
    """Record the request as accepted, or raise RequestRefused if it was accepted before (a replay)."""
    at = wh.timestamp()
    conn.execute(sa.text("DELETE FROM twilio_webhook_requests WHERE seen_at < :t"), {"t": at - REPLAY_WINDOW})
    form = request.form()
    inserted = conn.execute(sa.text(
        "INSERT INTO twilio_webhook_requests (digest, path, sid, seen_at) VALUES (:d, :p, :s, :t) "
        "ON CONFLICT (digest) DO NOTHING"),
        {"d": request.digest(path), "p": path, "s": form.get("MessageSid") or form.get("CallSid"), "t": at})
    if inserted.rowcount != 1:
        raise RequestRefused("replayed: this exact request was accepted before")


def signed_request(url: str, pairs: Mapping[str, str] | Sequence[tuple[str, str]]) -> SignedRequest:
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    return SignedRequest(url, tuple((str(k), str(v)) for k, v in items))
