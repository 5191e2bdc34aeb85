"""Collectors' calls: a collector starts a call from the call list, Twilio rings the collector's line and then
bridges the customer's AP contact (tasks/selfservice/call_routes.py answers Twilio's side). Here are the rules:
who may be called now, the call reserved once before Twilio rings anyone, and what the call leaves on the
customer's history (Twilio's status, the recording, the transcript, the outcome).

Exactly once. The call's id is derived from the collector, the customer, the number and how many of that
collector's calls to it have ended: a second click while the first call is still reserved, ringing or talking
finds the same id already reserved and rings nobody. A reservation Twilio never confirmed (the process stopped in
between) stops blocking after ``STALE_RESERVATION``.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from twilio.base.exceptions import TwilioException, TwilioRestException

from blocks.company import CompanyProfile
from blocks.phone_desk import PhoneDesk
from tasks import warehouse as wh
from tasks.contacts.quality import mask, mask_text
from tasks.selfservice.inbox import Customer, to_worklist
from tasks.selfservice.reach import reach_refused
from tasks.selfservice.status import count_against

log = logging.getLogger("arpilot.selfservice")
OUTCOMES = {"1": "reached", "2": "promise", "3": "dispute", "4": "wrong_number"}
OUTCOME_WORDS = {"reached": "reached the contact", "promise": "promise to pay", "dispute": "dispute",
                 "wrong_number": "wrong number"}
FOLLOW_UP = {"promise": "call_promise", "dispute": "call_dispute"}  # outcome -> collector_worklist kind
ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
STALE_RESERVATION = timedelta(minutes=5)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class CallRefused(Exception):
    """Nothing was dialled; the message says why (no number, opted out, outside the contact's hours, no line)."""


@dataclass(frozen=True)
class CallTarget:
    customer_id: str
    customer_name: str
    contact_id: str
    contact_name: str
    number: str


@dataclass(frozen=True)
class StartedCall:
    call_id: str
    target: CallTarget
    collector_line: str
    call_sid: str | None
    already: bool  # the same call was reserved before (a double click): nobody rung again


def call_target(conn: Connection, customer_id: str, contact_id: str | None = None) -> CallTarget:
    """The number to dial: the named contact's, else the AP contact the call list shows (one the contact gate lets
    calls reach first). The normalised E.164 number, or the ledger's own where it is E.164 already."""
    rows = conn.execute(sa.text(wh.named_query("selfservice", "call_targets")), {"c": customer_id}).all()
    for row in rows:
        number = row.phone_e164 or (row.phone if _E164.match(row.phone or "") else None)
        if number and contact_id in (None, row.contact_id):
            return CallTarget(customer_id, row.customer_name, row.contact_id, row.contact_name or "", number)
    which = f"contact {contact_id} of customer {customer_id}" if contact_id else f"customer {customer_id}"
    raise CallRefused(f"{which} has no AP contact with a usable phone number (see the contact cleanup worklist)")


def call_id_for(conn: Connection, collector: str, target: CallTarget, now: datetime) -> str:
    """The id a new call gets: the same while an earlier call of this collector to this number has not ended."""
    ended = conn.execute(sa.text(
        "SELECT COUNT(*) FROM collector_calls WHERE collector = :o AND customer_id = :c AND number = :n "
        "AND (status IN :ended OR (status = 'reserved' AND started_at < :stale))").bindparams(
        sa.bindparam("ended", expanding=True)),
        {"o": collector, "c": target.customer_id, "n": target.number, "ended": list(ENDED),
         "stale": wh.timestamp(now - STALE_RESERVATION)}).scalar()
    key = f"{collector}|{target.customer_id}|{target.number}|{ended + 1}"
    return "call-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def start_call(engine: Engine, phone: PhoneDesk, company: CompanyProfile, public_base_url: str, collector: str,
               customer_id: str, contact_id: str | None = None, now: datetime | None = None) -> StartedCall:
    """Ring the collector, whom Twilio then bridges to the customer (TwiML at /twilio/call/bridge). Raises
    CallRefused, with nothing dialled, when the number opted out of calls or it is outside the contact's hours, or
    the collector has no line; and when Twilio refuses the call (recorded as failed)."""
    now = now or datetime.now(UTC)
    line = phone.collector_line(collector)
    with engine.begin() as conn:
        target = call_target(conn, customer_id, contact_id)
        refused = reach_refused(conn, "voice", target.number, now, company, phone.dunning_policy)
        if refused:
            raise CallRefused(f"{mask(target.number)} not called: {refused}")
        if not line:
            raise CallRefused(f"no line to ring for {collector}: set collector_phones or ar_phone in the dunning "
                              "policy")
        call_id = call_id_for(conn, collector, target, now)
        reserved = conn.execute(sa.text(
            "INSERT INTO collector_calls (call_id, collector, collector_line, customer_id, contact_id, number, "
            "started_at, status) VALUES (:id, :o, :l, :c, :k, :n, :t, 'reserved') ON CONFLICT (call_id) DO NOTHING"),
            {"id": call_id, "o": collector, "l": line, "c": target.customer_id, "k": target.contact_id,
             "n": target.number, "t": wh.timestamp(now)}).rowcount == 1
        if not reserved:
            sid = conn.execute(sa.text("SELECT call_sid FROM collector_calls WHERE call_id = :id"),
                               {"id": call_id}).scalar()
            return StartedCall(call_id, target, line, sid, already=True)
    base = public_base_url.rstrip("/") + "/twilio/call/"
    try:
        call = phone.twilio.client().calls.create(
            to=line, from_=phone.twilio.from_number, url=f"{base}bridge?call={quote(call_id)}",
            status_callback=f"{base}status?call={quote(call_id)}",
            status_callback_event=["initiated", "ringing", "answered", "completed"])
    except requests.ReadTimeout:  # Twilio may have the call: the reservation holds until it is stale
        raise CallRefused("Twilio did not answer in time; the collector's line may ring yet, else call again in "
                          f"{STALE_RESERVATION.seconds // 60} minutes") from None
    except (TwilioRestException, TwilioException, requests.ConnectionError) as error:
        why = (f"Twilio refused the call: {error.code} {mask_text(error.msg)}" if isinstance(error, TwilioRestException)
               else f"Twilio could not be reached: {type(error).__name__}")
        with engine.begin() as conn:
            _update(conn, call_id, status="failed", status_at=wh.utcnow(), note=why)
        raise CallRefused(why) from None
    with engine.begin() as conn:  # Twilio's status callbacks may have come first: their status stands
        conn.execute(sa.text(
            "UPDATE collector_calls SET call_sid = :sid, status = CASE WHEN status = 'reserved' THEN :s ELSE status "
            "END, status_at = COALESCE(status_at, :t) WHERE call_id = :id"),
            {"sid": call.sid, "s": call.status or "queued", "t": wh.utcnow(), "id": call_id})
    log.info("Call %s: ringing %s for %s to %s", call_id, mask(line), collector, mask(target.number))
    return StartedCall(call_id, target, line, call.sid, already=False)


def call_row(conn: Connection, call_id: str):
    """The call with its customer's and contact's names, or None."""
    return conn.execute(sa.text(
        "SELECT k.*, c.name AS customer_name, t.name AS contact_name FROM collector_calls k "
        "JOIN customers c ON c.customer_id = k.customer_id LEFT JOIN contacts t ON t.contact_id = k.contact_id "
        "WHERE k.call_id = :id"), {"id": call_id}).first()


def record_call_status(conn: Connection, call_id: str, status: str) -> None:
    """Twilio's status callback for the collector's leg; an ended call's status is never taken back."""
    conn.execute(sa.text(
        "UPDATE collector_calls SET status = :s, status_at = :t WHERE call_id = :id AND status NOT IN :ended"
    ).bindparams(sa.bindparam("ended", expanding=True)),
        {"s": status, "t": wh.utcnow(), "id": call_id, "ended": list(ENDED)})


def record_dial(conn: Connection, call_id: str, dial_status: str, dial_sid: str | None, number: str) -> None:
    """How the customer's leg ended; a failed one counts against the number as the carrier's failures do."""
    _update(conn, call_id, dial_status=dial_status)
    if dial_status == "failed" and dial_sid:
        count_against(conn, dial_sid, "voice", number, None)


def record_recording(conn: Connection, call_id: str, sid: str, url: str, seconds: int | None) -> None:
    _update(conn, call_id, recording_sid=sid, recording_url=url, recording_seconds=seconds)


def add_transcript(conn: Connection, call_id: str, speaker: str | None, text: str) -> None:
    """Text appended to the call's transcript on a line of its own: ``speaker: text`` for an utterance."""
    line = f"{speaker}: {text.strip()}" if speaker else text.strip()
    conn.execute(sa.text(
        "UPDATE collector_calls SET transcript = COALESCE(transcript || :nl, '') || :line WHERE call_id = :id"),
        {"nl": "\n", "line": line, "id": call_id})


def record_outcome(conn: Connection, call_id: str, outcome: str, by: str, note: str | None = None) -> str:
    """The call's outcome, keyed on the phone or set afterwards. A promise or a dispute goes on the collector's
    worklist to be recorded against the invoices it concerns (the call does not say which); a wrong number
    counts against the number in the contact checks. Returns the outcome in words."""
    if outcome not in OUTCOME_WORDS:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOME_WORDS)}")
    call = call_row(conn, call_id)
    if call is None:
        raise ValueError(f"no call {call_id}")
    _update(conn, call_id, outcome=outcome, outcome_by=by, outcome_at=wh.utcnow(), note=note or call.note)
    if outcome in FOLLOW_UP:
        detail = (f"{by}'s call on {wh.to_date(call.started_at)} to {call.contact_name or 'the AP contact'}: "
                  f"{OUTCOME_WORDS[outcome]} to record against its invoices" + (f" ({note})" if note else ""))
        to_worklist(conn, f"{call_id}/{outcome}", [Customer(call.customer_id, call.customer_name, call.collector)],
                    FOLLOW_UP[outcome], detail, source="call")
    log.info("Call %s to %s: %s (by %s)", call_id, mask(call.number), OUTCOME_WORDS[outcome], by)
    return OUTCOME_WORDS[outcome]


class Transcriber(Protocol):
    """An engine that turns a call's recording into text: ``transcribe(recording_url, (account_sid, auth_token))``
    (the recording is fetched from Twilio with the account's credentials, e.g. ``recording_url + '.wav'``)."""

    def __call__(self, recording_url: str, auth: tuple[str, str]) -> str: ...


def transcriber(name: str) -> Transcriber | None:
    """The phone desk's transcription engine: None for "twilio" (Twilio's real-time transcription, started by the
    bridge's TwiML), else the importable "module:function"."""
    if name == "twilio":
        return None
    module, _, function = name.partition(":")
    engine: Callable = getattr(importlib.import_module(module), function)
    return engine


def _update(conn: Connection, call_id: str, **values) -> None:
    sets = ", ".join(f"{column} = :{column}" for column in values)
    conn.execute(sa.text(f"UPDATE collector_calls SET {sets} WHERE call_id = :call_id"), {**values, "call_id": call_id})
