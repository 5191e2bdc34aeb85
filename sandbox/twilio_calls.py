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
- Start/Transcription: real-time transcription to its statusCallbackUrl (transcription-started now, one final
  transcription-content per line of ``conversation`` once a Dial connects, transcription-stopped at the end).
- Dial: the number is kept and answered with ``dial_status``. Connected (completed): each Number's url (the whisper)
  is played to the dialled party first (its Says kept apart, in ``whispered``), then the conversation is held, and
  with record="record-from-answer..." its recordingStatusCallback gets the recording after the Dial's action. The
  action, if any, is posted with DialCallStatus; else the call goes on.
- Hangup, Reject: the call ends. Play, Pause and anything else are passed over.

A webhook answering with anything but 200 ends the call (Twilio would say an application error and hang up).
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
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
    whispered: list[Spoken] = field(default_factory=list)  # what a dialled party heard before being connected
    transcribing: str | None = None  # the real-time transcription's callback, once started

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
              voicemail_transcript: str | None = None, recording_seconds: int = 12,
              conversation: Sequence[tuple[str, str]] = (), dial_status: str = "completed") -> CallTranscript:
    """Play a call from its first webhook ``url``; ``params`` are the call's own parameters (CallSid, From, To,
    CallStatus, Direction...), sent with every request. ``conversation``: what is said once a Dial connects, as
    (track, words): inbound_track is this call's own party, outbound_track the dialled one; ``dial_status``: how a
    Dial ends (completed, busy, no-answer, failed)."""
    call = CallTranscript(params.get("CallSid", ""))

    def post(target: str, values: dict[str, str]) -> str:
        status, document = post_signed(target, values, auth_token)
        call.requests.append((target, status))
        return document

    dial = _Dial(post, list(conversation), dial_status, recording_seconds)
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
        step = _follow(call, current, document, call_params, pending, later, voicemail_transcript, recording_seconds,
                       dial)
    if call.transcribing:
        post(call.transcribing, dial.transcription(call_params, "transcription-stopped"))
    return call


def _follow(call: CallTranscript, current: str, document: str, params: dict[str, str], pending: list[str],
            later: list[tuple[str, dict[str, str]]], transcript: str | None,
            seconds: int, dial: _Dial) -> tuple[str, dict[str, str]] | None:
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
        elif verb.tag == "Start":
            for transcription in verb.iter("Transcription"):
                call.transcribing = urljoin(current, transcription.get("statusCallbackUrl", ""))
                dial.post(call.transcribing, dial.transcription(params, "transcription-started"))
        elif verb.tag == "Dial":
            dialled = dial.connect(call, verb, current, params, later)
            if verb.get("action"):
                return action, {**params, **dialled}
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


@dataclass
class _Dial:
    """How a Dial goes: who answers (``status``), what the whisper says, what is said once connected, the recording."""
    post: Callable[[str, dict[str, str]], str]
    conversation: list[tuple[str, str]]
    status: str
    seconds: int
    sequence: int = 0

    def connect(self, call: CallTranscript, verb: ET.Element, current: str, params: dict[str, str],
                later: list[tuple[str, dict[str, str]]]) -> dict[str, str]:
        """Dial the numbers; the Dial action's parameters."""
        numbers = [n for n in verb if n.tag in ("Number", "Client", "Sip")]
        call.dialled.extend([(n.text or "").strip() for n in numbers] or [(verb.text or "").strip()])
        sid = "CA" + secrets.token_hex(16)
        if self.status != "completed":
            return {"DialCallStatus": self.status, "DialCallSid": sid, "DialCallDuration": "0"}
        for number in (n for n in numbers if n.get("url")):  # the whisper, to the dialled party alone
            leg = {**params, "CallSid": sid, "ParentCallSid": params.get("CallSid", ""),
                   "To": (number.text or "").strip(), "Direction": "outbound-dial", "CallStatus": "in-progress"}
            whisper = self.post(urljoin(current, number.get("url", "")), leg)
            call.whispered += [Spoken((say.text or "").strip(), say.get("language"), say.get("voice"))
                               for say in (ET.fromstring(whisper).iter("Say") if whisper.strip() else ())]
        if call.transcribing:
            for track, words in self.conversation:
                self.post(call.transcribing, self.transcription(params, "transcription-content", track, words))
        callback = verb.get("recordingStatusCallback")
        if verb.get("record", "").startswith("record-from") and callback:
            recording = "RE" + secrets.token_hex(16)
            call.recordings.append(recording)
            account = params.get("AccountSid", "")
            later.append((urljoin(current, callback), {
                "AccountSid": account, "CallSid": params.get("CallSid", ""), "RecordingSid": recording,
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{recording}",
                "RecordingStatus": "completed", "RecordingDuration": str(self.seconds), "RecordingChannels": "2",
                "RecordingSource": "DialVerb"}))
        return {"DialCallStatus": "completed", "DialCallSid": sid, "DialCallDuration": str(self.seconds)}

    def transcription(self, params: dict[str, str], event: str, track: str = "", words: str = "") -> dict[str, str]:
        """A real-time transcription callback as Twilio posts it."""
        self.sequence += 1
        values = {"AccountSid": params.get("AccountSid", ""), "CallSid": params.get("CallSid", ""),
                  "TranscriptionSid": "GT" + params.get("CallSid", "")[2:], "TranscriptionEvent": event,
                  "SequenceId": str(self.sequence), "LanguageCode": "en-US", "ProviderName": "Google"}
        if event == "transcription-content":
            values |= {"Track": track, "Final": "true",
                       "TranscriptionData": json.dumps({"transcript": words, "confidence": 0.95})}
        return values
