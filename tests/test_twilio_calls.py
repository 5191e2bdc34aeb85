"""The sandbox's call player follows TwiML as Twilio does, against a scripted app under uvicorn that believes only
requests signed with the account's token (the twilio library's RequestValidator): a Gather without keys falls
through to the next verb, Redirect and relative URLs are followed, Dial without an action goes on, Hangup ends the
call, a recording's transcription comes after its action, a webhook error ends the call, and a Dial answered plays
its whisper to the dialled party before the conversation is transcribed and recorded."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from sandbox.loopback import served
from sandbox.twilio_calls import play_call

TOKEN = "player-auth-token"
PARAMS = {"CallSid": "CA" + "9" * 32, "AccountSid": "AC" + "9" * 32, "From": "+12125550000", "To": "+13125550100",
          "CallStatus": "ringing", "Direction": "inbound"}
DOCUMENTS = {
    "/start": '<Response><Say language="en-US">one</Say><Gather action="/keys?x=1" numDigits="1"><Say>press</Say>'
              "</Gather><Say>no keys</Say><Redirect>/next</Redirect></Response>",
    "/keys": "<Response><Dial>+15550001</Dial><Say>after dial</Say><Hangup/><Say>never</Say></Response>",
    "/next": '<Response><Say voice="Polly.Vicki" language="de-DE">weiter</Say></Response>',
    "/record": '<Response><Record action="/recorded" transcribe="true" transcribeCallback="/transcribed"/>'
               "<Say>not reached</Say></Response>",
    "/recorded": "<Response><Say>kept</Say><Dial action='/dialled'><Number>+15550002</Number></Dial></Response>",
    "/transcribed": "<Response/>",
    "/bridge": '<Response><Start><Transcription statusCallbackUrl="/words"/></Start><Dial action="/bridged" '
               'record="record-from-answer-dual" recordingStatusCallback="/recording"><Number url="/whisper">'
               "+15550003</Number></Dial></Response>",
    "/whisper": "<Response><Say>this call is recorded</Say></Response>",
    "/words": "<Response/>", "/recording": "<Response/>", "/bridged": "<Response><Say>bye</Say></Response>",
}


@pytest.fixture
def twiml_app():
    """(base URL, requests seen): each believed request as (path with query, form)."""
    seen: list[tuple[str, dict[str, str]]] = []

    async def answer(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if not RequestValidator(TOKEN).validate(str(request.url), form, request.headers.get("X-Twilio-Signature")):
            return Response("Forbidden", status_code=403)
        where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        seen.append((where, form))
        document = DOCUMENTS.get(request.url.path)
        return Response(document, media_type="application/xml") if document else Response("no", status_code=500)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
    with served(lambda base: app) as base:
        yield base, seen


def test_keys_answer_the_gather_at_its_action_and_hangup_ends_the_call(twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/start", PARAMS, TOKEN, keys=["5"])
    assert [s.text for s in call.said] == ["one", "press", "after dial"]
    assert call.said[0].language == "en-US" and call.dialled == ["+15550001"] and call.hung_up
    assert [(where, form.get("Digits"), form["CallStatus"]) for where, form in seen] == [
        ("/start", None, "ringing"), ("/keys?x=1", "5", "in-progress")]


def test_without_keys_the_gather_times_out_and_the_call_goes_on_with_the_next_verb(twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/start", PARAMS, TOKEN)
    assert [(s.text, s.language, s.voice) for s in call.said] == [
        ("one", "en-US", None), ("press", None, None), ("no keys", None, None), ("weiter", "de-DE", "Polly.Vicki")]
    assert [where for where, _ in seen] == ["/start", "/next"] and not call.hung_up  # ended with the document


def test_a_recording_goes_to_its_action_then_its_transcription_to_the_callback(twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/record", PARAMS, TOKEN, voicemail_transcript="call me back")
    assert [where for where, _ in seen] == ["/record", "/recorded", "/transcribed", "/dialled"]
    recorded, transcribed = seen[1][1], seen[2][1]
    assert recorded["RecordingSid"] == transcribed["RecordingSid"] == call.recordings[0]
    assert (transcribed["TranscriptionStatus"], transcribed["TranscriptionText"]) == ("completed", "call me back")
    assert seen[3][1]["DialCallStatus"] == "completed" and call.dialled == ["+15550002"]
    assert "not reached" not in [s.text for s in call.said]
    assert [status for _, status in call.requests] == [200, 200, 200, 500]  # /dialled has no document: the call ends


def test_requests_signed_with_another_token_are_refused_and_end_the_call(twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/start", PARAMS, "another-token", keys=["5"])
    assert call.requests == [(f"{base}/start", 403)] and call.said == [] and seen == []


def test_a_dial_plays_the_whisper_to_the_dialled_party_first_then_transcribes_and_records_the_conversation(
        twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/bridge", PARAMS, TOKEN, conversation=[("outbound_track", "hello"),
                                                                    ("inbound_track", "hi there")])
    assert [where for where, _ in seen] == ["/bridge", "/words", "/whisper", "/words", "/words", "/bridged",
                                            "/recording", "/words"]
    assert [s.text for s in call.whispered] == ["this call is recorded"] and [s.text for s in call.said] == ["bye"]
    whisper, said = seen[2][1], [form for where, form in seen if form.get("TranscriptionEvent")]
    assert (whisper["To"], whisper["Direction"], whisper["ParentCallSid"]) == ("+15550003", "outbound-dial",
                                                                               PARAMS["CallSid"])
    assert [(f["TranscriptionEvent"], f.get("Track")) for f in said] == [
        ("transcription-started", None), ("transcription-content", "outbound_track"),
        ("transcription-content", "inbound_track"), ("transcription-stopped", None)]
    assert '"transcript": "hi there"' in said[2]["TranscriptionData"]
    assert seen[5][1]["DialCallStatus"] == "completed" and seen[5][1]["DialCallSid"] == whisper["CallSid"]
    assert seen[6][1]["RecordingSid"] == call.recordings[0]


def test_a_dial_nobody_answers_plays_no_whisper_and_records_nothing(twiml_app):
    base, seen = twiml_app
    call = play_call(f"{base}/bridge", PARAMS, TOKEN, conversation=[("outbound_track", "hello")], dial_status="busy")
    assert [where for where, _ in seen] == ["/bridge", "/words", "/bridged", "/words"]
    assert seen[2][1]["DialCallStatus"] == "busy" and call.whispered == [] and call.recordings == []
