"""Twilio's part in a voice call, played against our webhooks: what the local Twilio-compatible server does when a
customer calls the AR desk (an inbound call) or when a call it placed is answered (an outbound call's TwiML URL).

``play_call`` requests the first URL with the call's parameters, signed as Twilio signs (X-Twilio-Signature with
the account's auth token, the twilio library's own algorithm), reads the TwiML answer verb by verb as Twilio does,
and requests each action URL in turn, until a Hangup or the end of a document:

- Say: its text and language are kept, in order (also inside a Gather).
- Gather: answered with the next entry of ``keys`` (posted to its action as Digits); with no keys left it times
  out, and, as in Twilio, the call goes on with the verb after it.
- Redirect: the call goes on with the URL it names.
- Record: posted to its action with a RecordingSid, RecordingUrl and RecordingDuration; then (as Twilio does, once
  it has transcribed the recording), when it asks for a transcription, its transcribe callback gets
  ``voicemail_transcript`` (TranscriptionStatus completed; failed when None).
- Dial: the number is kept; its action, if any, is posted with DialCallStatus completed; else the call goes on.
- Hangup, Reject: the call ends. Play, Pause and anything else are passed over.

A webhook answering with anything but 200 ends the call (Twilio would say an application error and hang up).
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

from twilio.request_validator import RequestValidator

MAX_REQUESTS = 100  # a TwiML loop (a Redirect to itself) ends here instead of running forever


@dataclass(frozen=True)
class Spoken:
    text: str
    language: str | None
    voice: str | None


@dataclass
class CallTranscript:
    """What happened in a played call: every Say in order, the keys pressed, whom it dialled, the recordings
    left, and each webhook request with its status."""
    call_sid: str
    said: list[Spoken] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    requests: list[tuple[str, int]] = field(default_factory=list)
    hung_up: bool = False

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.said)


def post_signed(url: str, params: dict[str, str], auth_token: str, timeout: float = 10) -> tuple[int, str]:
    """POST ``params`` to a webhook as Twilio does, signed with ``auth_token``; (status, body)."""
    request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def play_call(url: str, params: dict[str, str], auth_token: str, keys: Iterable[str] = (),
              voicemail_transcript: str | None = None, recording_seconds: int = 12) -> CallTranscript:
    """Play a call from its first webhook ``url``; ``params`` are the call's own parameters (CallSid, From, To,
    CallStatus, Direction...), sent with every request."""
    call = CallTranscript(params.get("CallSid", ""))
    pending = [str(k) for k in keys]
    call_params = dict(params)
    step: tuple[str, dict[str, str]] | None = (url, call_params)
    later: list[tuple[str, dict[str, str]]] = []  # callbacks Twilio makes after the request that caused them
    while step is not None and len(call.requests) < MAX_REQUESTS:
        current, sent = step
        status, document = post_signed(current, sent, auth_token)
        call.requests.append((current, status))
        while later:
            callback, values = later.pop(0)
            call.requests.append((callback, post_signed(callback, values, auth_token)[0]))
        call_params = {**call_params, "CallStatus": "in-progress"}
        if status != 200:
            break
        step = _follow(call, current, document, call_params, pending, later, voicemail_transcript, recording_seconds)
    return call


def _follow(call: CallTranscript, current: str, document: str, params: dict[str, str], pending: list[str],
            later: list[tuple[str, dict[str, str]]], transcript: str | None,
            seconds: int) -> tuple[str, dict[str, str]] | None:
    """Read one TwiML document; the next request to make, or None when the call ends."""
    for verb in ET.fromstring(document) if document.strip() else ():
        action = urljoin(current, verb.get("action") or current)
        if verb.tag == "Say":
            call.said.append(Spoken((verb.text or "").strip(), verb.get("language"), verb.get("voice")))
        elif verb.tag == "Gather":
            for say in verb.iter("Say"):
                call.said.append(Spoken((say.text or "").strip(), say.get("language"), say.get("voice")))
            if pending:
                call.keys.append(pending.pop(0))
                return action, {**params, "Digits": call.keys[-1], "FinishedOnKey": verb.get("finishOnKey", "")}
        elif verb.tag == "Redirect":
            return urljoin(current, (verb.text or "").strip()), params
        elif verb.tag == "Record":
            return _record(call, verb, current, action, params, later, transcript, seconds)
        elif verb.tag == "Dial":
            numbers = [(n.text or "").strip() for n in verb if n.tag in ("Number", "Client", "Sip")]
            call.dialled.extend(numbers or [(verb.text or "").strip()])
            if verb.get("action"):
                return action, {**params, "DialCallStatus": "completed", "DialCallSid": "CA" + secrets.token_hex(16),
                                "DialCallDuration": "30"}
        elif verb.tag in ("Hangup", "Reject"):
            call.hung_up = True
            return None
    return None


def _record(call: CallTranscript, verb: ET.Element, current: str, action: str, params: dict[str, str],
            later: list[tuple[str, dict[str, str]]], transcript: str | None,
            seconds: int) -> tuple[str, dict[str, str]]:
    """A recording left: the call goes on at the action, and the transcription follows it to the callback."""
    sid = "RE" + secrets.token_hex(16)
    call.recordings.append(sid)
    account = params.get("AccountSid", "")
    recording = {"RecordingSid": sid, "RecordingDuration": str(seconds), "Digits": "#",
                 "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}"}
    callback = verb.get("transcribeCallback")
    if verb.get("transcribe") == "true" and callback:
        later.append((urljoin(current, callback), {
            **params, **recording, "TranscriptionSid": "TR" + secrets.token_hex(16),
            "TranscriptionStatus": "completed" if transcript is not None else "failed",
            "TranscriptionText": transcript or "", "TranscriptionType": "fast",
            "TranscriptionUrl": recording["RecordingUrl"] + "/Transcriptions"}))
    return action, {**params, **recording}
