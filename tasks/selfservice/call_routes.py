"""Twilio's side of a collector's call, as a route group of the serve app (each route ``routes.guarded``):

  /twilio/call/bridge?call=ID      the collector answered: "Connecting you to ...", then Dial the customer, recorded
                                   (both sides, from the answer) and transcribed when the phone desk says so
  /twilio/call/consent?call=ID     the Number's whisper: the customer hears that the call is recorded before the
                                   two are connected, so nothing of theirs is recorded before they are told
  /twilio/call/outcome?call=ID     the Dial's action: how the customer's leg ended, then the collector keys the
                                   outcome (1 reached, 2 promise, 3 dispute, 4 wrong number), read back
  /twilio/call/recording?call=ID   the recording's sid, URL and length (and a pluggable engine's transcript)
  /twilio/call/transcript?call=ID  Twilio's real-time transcription, one final utterance per request
  /twilio/call/status?call=ID      Twilio's status callbacks for the collector's leg

Transcription. The default engine ("twilio") is Twilio's real-time transcription (<Start><Transcription>) on the
collector's leg, both tracks, started after the collector's announcement: it needs no second product (Voice
Intelligence needs a service and its own webhook), no audio passes through arpilot, and the sandbox plays it as
Twilio does (callbacks). A phone desk may name a "module:function" engine instead, given the recording's URL.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy.engine import Connection, Engine
from starlette.routing import Route
from twilio.twiml.voice_response import VoiceResponse

from tasks.contacts.quality import mask
from tasks.selfservice.calls import (
    OUTCOMES,
    add_transcript,
    call_row,
    record_call_status,
    record_dial,
    record_outcome,
    record_recording,
    transcriber,
)
from tasks.selfservice.webhooks import TwilioWebhooks, guarded

log = logging.getLogger("arpilot.selfservice")
SPEAKERS = {"inbound_track": "Collector", "outbound_track": "Customer"}  # the tracks of the collector's leg
KEYS = "Press 1 if you reached the contact, 2 for a promise to pay, 3 for a dispute, 4 for a wrong number."


def call_routes(hooks: TwilioWebhooks, engine: Engine) -> list[Route]:
    phone = hooks.phone
    voice = {"voice": phone.twilio.voice, "language": phone.twilio.voice_language}
    engine_for_recordings = transcriber(phone.transcriber)

    def url(step: str, call_id: str) -> str:
        return hooks.url(f"/twilio/call/{step}", call=call_id)

    def unknown(answer: VoiceResponse) -> str:
        answer.say("This call is not on file. Goodbye.", **voice)
        answer.hangup()
        return str(answer)

    def bridge(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        answer, call = VoiceResponse(), call_row(conn, query.get("call", ""))
        if call is None:
            return unknown(answer)
        who = ", ".join(n for n in (call.customer_name, call.contact_name) if n)
        answer.say(f"Connecting you to {who}.", **voice)
        record = phone.record_collector_calls
        if record and engine_for_recordings is None:
            answer.start().transcription(status_callback_url=url("transcript", call.call_id), track="both_tracks",
                                         inbound_track_label="collector", outbound_track_label="customer")
        recording = {"record": "record-from-answer-dual", "recording_status_callback": url("recording", call.call_id),
                     "recording_status_callback_event": "completed"} if record else {}
        dial = answer.dial(action=url("outcome", call.call_id), caller_id=phone.twilio.from_number, **recording)
        dial.number(call.number, url=url("consent", call.call_id) if record else None)
        return str(answer)

    def consent(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        answer = VoiceResponse()
        answer.say(f"This call from {hooks.company.legal_name} about your account is recorded and transcribed for "
                   "our records.", **voice)
        return str(answer)

    def outcome(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        answer, call = VoiceResponse(), call_row(conn, query.get("call", ""))
        if call is None:
            return unknown(answer)
        if "Digits" not in form:  # the Dial's action: the customer's leg has ended
            dialled = form.get("DialCallStatus", "")
            record_dial(conn, call.call_id, dialled, form.get("DialCallSid"), call.number)
            if dialled not in ("completed", "answered"):
                ended = dialled.replace("-", " ") or "no answer"
                answer.say(f"The call to {call.customer_name} did not connect: {ended}. Goodbye.", **voice)
                return str(answer)
        elif form["Digits"] in OUTCOMES:
            words = record_outcome(conn, call.call_id, OUTCOMES[form["Digits"]], call.collector)
            answer.say(f"Recorded: {words}. Goodbye.", **voice)
            return str(answer)
        else:
            answer.say("That is not an outcome.", **voice)
        answer.gather(num_digits=1, timeout=10, action=url("outcome", call.call_id)).say(KEYS, **voice)
        answer.say("No outcome recorded; set it with arpilot call outcome. Goodbye.", **voice)
        return str(answer)

    def recording(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        call_id = query.get("call", "")
        if form.get("RecordingStatus", "completed") == "completed" and form.get("RecordingSid"):
            seconds = form.get("RecordingDuration")
            record_recording(conn, call_id, form["RecordingSid"], form.get("RecordingUrl", ""),
                             int(seconds) if seconds and seconds.isdigit() else None)
            if engine_for_recordings is not None:
                try:
                    text = engine_for_recordings(form.get("RecordingUrl", ""),
                                                 (phone.twilio.account_sid, hooks.auth_token))
                except Exception as error:  # an outside engine: the recording is kept all the same
                    # The type only: an engine's message may quote the credentials it was given.
                    log.warning("Transcription engine %s failed for call %s: %s", phone.transcriber, call_id,
                                type(error).__name__)
                else:
                    add_transcript(conn, call_id, None, text)
        return str(VoiceResponse())

    def transcript(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        if form.get("TranscriptionEvent") == "transcription-content" and form.get("Final", "true") == "true":
            text = json.loads(form.get("TranscriptionData") or "{}").get("transcript", "")
            if text.strip():
                track = form.get("Track", "")
                add_transcript(conn, query.get("call", ""), SPEAKERS.get(track, track.capitalize()), text)
        return str(VoiceResponse())

    def status(conn: Connection, form: dict[str, str], query: dict[str, str]) -> str:
        if form.get("CallStatus"):
            record_call_status(conn, query.get("call", ""), form["CallStatus"])
            log.info("Collector's call %s to %s: %s", query.get("call"), mask(form.get("To", "")), form["CallStatus"])
        return str(VoiceResponse())

    handlers = {"bridge": bridge, "consent": consent, "outcome": outcome, "recording": recording,
                "transcript": transcript, "status": status}
    return [Route(f"/twilio/call/{step}", guarded(hooks, engine, handle), methods=["POST"])
            for step, handle in handlers.items()]

