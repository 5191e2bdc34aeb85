"""What the IVR reads and writes in the warehouse: the call log (who called, in which language, what they asked and
what was done), the texts and emails a call sent (once each per call), voicemails for the collector, and the
account facts the menu speaks. Every write happens in the webhook's own transaction (tasks/selfservice/routes.py)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.selfservice.inbox import Customer, to_worklist
from tasks.selfservice.ivr import Payment, account_digits

VOICEMAIL = "ivr_voicemail"


@dataclass(frozen=True)
class Call:
    call_sid: str
    from_number: str
    customer: Customer | None
    language: str


def start_call(conn: Connection, form: dict[str, str], language: str) -> None:
    conn.execute(sa.text(
        "INSERT INTO ivr_calls (call_sid, from_number, to_number, customer_id, language, started_at) "
        "VALUES (:s, :f, :t, NULL, :l, :at) ON CONFLICT (call_sid) DO NOTHING"),
        {"s": form.get("CallSid", ""), "f": form.get("From", ""), "t": form.get("To"), "l": language,
         "at": wh.utcnow()})


def identify(conn: Connection, call_sid: str, customer_id: str, language: str) -> None:
    conn.execute(sa.text("UPDATE ivr_calls SET customer_id = :c, language = :l WHERE call_sid = :s"),
                 {"c": customer_id, "l": language, "s": call_sid})


def call_of(conn: Connection, call_sid: str) -> Call | None:
    row = conn.execute(sa.text(
        "SELECT k.call_sid, k.from_number, k.language, c.customer_id, c.name, c.collector FROM ivr_calls k "
        "LEFT JOIN customers c ON c.customer_id = k.customer_id WHERE k.call_sid = :s"), {"s": call_sid}).first()
    if row is None:
        return None
    customer = Customer(row.customer_id, row.name, row.collector) if row.customer_id else None
    return Call(row.call_sid, row.from_number, customer, row.language)


def log_step(conn: Connection, call_sid: str, turn: int, choice: str, outcome: str) -> None:
    conn.execute(sa.text(
        "INSERT INTO ivr_call_steps (call_sid, turn, choice, outcome, asked_at) VALUES (:s, :n, :c, :o, :at) "
        "ON CONFLICT (call_sid, turn) DO NOTHING"),
        {"s": call_sid, "n": turn, "c": choice, "o": outcome, "at": wh.utcnow()})


def customer_country(conn: Connection, customer_id: str) -> str | None:
    return conn.execute(sa.text("SELECT country FROM customers WHERE customer_id = :c"), {"c": customer_id}).scalar()


def customers_keyed(conn: Connection, keyed: str) -> list[Customer]:
    """The customers whose id holds the keyed digits in that order (tasks/selfservice/ivr.account_keyed decides)."""
    if not keyed.isdigit():
        return []
    pattern = "%" + "%".join(keyed) + "%"
    return [Customer(*r) for r in conn.execute(sa.text(
        "SELECT customer_id, name, collector FROM customers WHERE customer_id LIKE :p ORDER BY customer_id"),
        {"p": pattern}) if account_digits(r[0]) == keyed]


def last_payment(conn: Connection, customer_id: str) -> Payment | None:
    row = conn.execute(sa.text(wh.named_query("selfservice", "last_payment")), {"customer_id": customer_id}).first()
    return Payment(wh.to_date(row.received_on), row.currency, int(row.amount_cents)) if row else None


def statement_addresses(conn: Connection, customer_id: str) -> list[str]:
    """The customer's contacts' email addresses that may get email (not opted out, in the ledger or by request)."""
    return [r[0] for r in conn.execute(sa.text(wh.named_query("selfservice", "statement_addresses")),
                                       {"customer_id": customer_id})]


def reserve_send(conn: Connection, call_sid: str, channel: str, customer_id: str, address: str) -> bool:
    """Reserve this call's one text (or email); False when the call has sent it already."""
    return conn.execute(sa.text(
        "INSERT INTO ivr_sends (call_sid, channel, customer_id, address, sent_at) VALUES (:s, :ch, :c, :a, :at) "
        "ON CONFLICT (call_sid, channel) DO NOTHING"),
        {"s": call_sid, "ch": channel, "c": customer_id, "a": address, "at": wh.utcnow()}).rowcount == 1


def release_send(conn: Connection, call_sid: str, channel: str) -> None:
    """Twilio or the relay refused it: the caller may ask again in this call."""
    conn.execute(sa.text("DELETE FROM ivr_sends WHERE call_sid = :s AND channel = :ch"), {"s": call_sid, "ch": channel})


def sent(conn: Connection, call_sid: str, channel: str, provider_id: str | None) -> None:
    conn.execute(sa.text("UPDATE ivr_sends SET provider_id = :p WHERE call_sid = :s AND channel = :ch"),
                 {"p": provider_id, "s": call_sid, "ch": channel})


def keep_voicemail(conn: Connection, call: Call, form: dict[str, str]) -> None:
    """Store a voicemail and put it on the collector's worklist."""
    assert call.customer is not None, "a voicemail is offered to identified callers only"
    sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
    seconds = int(form["RecordingDuration"]) if form.get("RecordingDuration", "").isdigit() else None
    conn.execute(sa.text(
        "INSERT INTO ivr_voicemails (recording_sid, call_sid, customer_id, collector, recording_url, "
        "duration_seconds, recorded_at) VALUES (:r, :s, :c, :o, :u, :d, :at) ON CONFLICT (recording_sid) DO NOTHING"),
        {"r": sid, "s": call.call_sid, "c": call.customer.customer_id, "o": call.customer.collector, "u": url,
         "d": seconds, "at": wh.utcnow()})
    detail = voicemail_detail(call.from_number, seconds, url, None)
    to_worklist(conn, sid, [call.customer], VOICEMAIL, detail, source="ivr")


def transcribed(conn: Connection, form: dict[str, str]) -> bool:
    """Add Twilio's transcription to the voicemail and its worklist item; False for a recording not kept here."""
    sid = form.get("RecordingSid", "")
    row = conn.execute(sa.text(
        "SELECT v.customer_id, v.duration_seconds, v.recording_url, k.from_number FROM ivr_voicemails v "
        "JOIN ivr_calls k ON k.call_sid = v.call_sid WHERE v.recording_sid = :r"), {"r": sid}).first()
    if row is None:
        return False
    text = form.get("TranscriptionText", "") if form.get("TranscriptionStatus") == "completed" else None
    conn.execute(sa.text("UPDATE ivr_voicemails SET transcript = :t, transcribed_at = :at WHERE recording_sid = :r"),
                 {"t": text, "at": wh.utcnow(), "r": sid})
    conn.execute(sa.text("UPDATE collector_worklist SET detail = :d WHERE item_key = :k"),
                 {"d": voicemail_detail(row.from_number, row.duration_seconds, row.recording_url,
                                        text if text is not None else ""), "k": f"ivr|{sid}|{row.customer_id}"})
    return True


def voicemail_detail(number: str, seconds: int | None, url: str, transcript: str | None) -> str:
    """The worklist's words: who, how long, where to listen, and what was said once Twilio has transcribed it."""
    said = ("transcript to follow" if transcript is None else
            f'transcript "{transcript}"' if transcript else "no transcript (Twilio could not transcribe it)")
    return f"Voicemail from {number} ({seconds if seconds is not None else '?'} s), {said}. Listen: {url}"
