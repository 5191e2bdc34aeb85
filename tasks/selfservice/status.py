"""Twilio's status callbacks: what the carrier did with a text or call the outbox handed to Twilio.

The outbox row named by the callback URL's ``outbox`` key (or, for texts sent without one, whose provider_id is the
MessageSid / CallSid) gets the carrier's word in delivery_status (its send status stays as the send records it:
Twilio has it, and it must never be sent again). The key is there because Twilio can report before the send has
recorded the sid. An undelivered or failed text, or a
failed call, gets the carrier's ErrorCode in ``reason`` and counts against the number like a hard bounce against
an email (``phone_delivery_failures``). A callback for a sid the outbox does not know is only logged.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.contacts.quality import mask

log = logging.getLogger("arpilot.selfservice")
SMS_STATUSES = frozenset({"queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "accepted",
                          "scheduled", "canceled", "receiving", "received"})
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer",
                           "failed", "canceled"})
NOT_DELIVERED = frozenset({("sms", "undelivered"), ("sms", "failed"), ("voice", "failed")})
_FINAL = {"delivered", "undelivered", "failed", "read", "completed", "busy", "no-answer", "canceled"}


def delivery_update(form: dict[str, str]) -> tuple[str, str, str, str | None] | None:
    """(channel, sid, status, error code) from a callback's parameters, or None if it names no known status."""
    if form.get("MessageSid") and form.get("MessageStatus") in SMS_STATUSES:
        return "sms", form["MessageSid"], form["MessageStatus"], form.get("ErrorCode") or None
    if form.get("CallSid") and form.get("CallStatus") in CALL_STATUSES:
        return "voice", form["CallSid"], form["CallStatus"], form.get("ErrorCode") or None
    return None


def record_status(conn: Connection, form: dict[str, str], query: dict[str, str] | None = None) -> str:
    """Apply one status callback; returns what was done, in words for the log."""
    update = delivery_update(form)
    if update is None:
        return "no status in the callback"
    channel, sid, status, code = update
    by, value = ("outbox_key", query["outbox"]) if query and query.get("outbox") else ("provider_id", sid)
    row = conn.execute(sa.text(f"SELECT outbox_key, delivery_status FROM dunning_outbox WHERE {by} = :v"),
                       {"v": value}).first()
    if row is None:
        log.info("Status %s for %s, which the outbox does not know", status, sid)
        return "not in the outbox"
    if row.delivery_status in _FINAL and status not in _FINAL:
        return "late callback ignored"  # callbacks can arrive out of order: "sent" after "delivered"
    params = {"k": row.outbox_key, "s": status, "t": wh.utcnow()}
    if (channel, status) in NOT_DELIVERED:
        params["r"] = f"{status} (carrier error {code})" if code else status
        conn.execute(sa.text("UPDATE dunning_outbox SET delivery_status = :s, delivery_updated_at = :t, reason = :r "
                             "WHERE outbox_key = :k"), params)
        to = form.get("To", "")
        count_against(conn, sid, channel, to, code, row.outbox_key)
        log.warning("%s to %s %s: %s", channel, mask(to), status, params["r"])
    else:
        conn.execute(sa.text("UPDATE dunning_outbox SET delivery_status = :s, delivery_updated_at = :t "
                             "WHERE outbox_key = :k"), params)
    return f"{channel} {status}"


def count_against(conn: Connection, provider_id: str, channel: str, number: str, error_code: str | None,
                  outbox_key: str | None = None) -> None:
    """A text or call that did not reach ``number``, once per provider id: the contact checks' phone_reaches reads
    it like an email's hard bounce."""
    conn.execute(sa.text(
        "INSERT INTO phone_delivery_failures (provider_id, channel, address, error_code, outbox_key, failed_at) "
        "VALUES (:p, :c, :a, :e, :k, :t) ON CONFLICT (provider_id) DO NOTHING"),
        {"p": provider_id, "c": channel, "a": number, "e": error_code, "k": outbox_key, "t": wh.utcnow()})
