"""The IVR as the tests drive it: a caller whose every answer's TwiML is parsed and each Gather answered at its own
action URL, signed as Twilio signs (the fixtures ivr and ivr_twilio, in conftest.py, serve the IVR world)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from selfservice_cases import ACCOUNT, DESK_NUMBER, PUBLIC, post, rows

_calls = itertools.count()


class Caller:
    """One phone call, played by hand: each answer's TwiML parsed, each Gather answered at its own action URL."""

    def __init__(self, http, number: str):
        self.http, self.number, self.sid = http, number, f"CA{next(_calls):032d}"
        self.twiml: ET.Element | None = None

    def params(self, **extra) -> dict[str, str]:
        return {"CallSid": self.sid, "AccountSid": ACCOUNT, "From": self.number, "To": DESK_NUMBER,
                "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}

    def post(self, url: str, **extra) -> ET.Element:
        assert url.startswith(PUBLIC), url  # absolute, as Twilio requests and signs it
        answer = post(self.http, url[len(PUBLIC):], self.params(**extra))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/xml")
        self.twiml = ET.fromstring(answer.text)
        return self.twiml

    def ring(self) -> ET.Element:
        return self.post(f"{PUBLIC}/twilio/voice", CallStatus="ringing")

    def press(self, digits: str) -> ET.Element:
        return self.post(self.gather().get("action"), Digits=digits)

    def gather(self) -> ET.Element:
        [gather] = self.twiml.findall("Gather")
        return gather

    @property
    def said(self) -> list[str]:
        return [s.text for s in self.twiml.iter("Say")]

    @property
    def languages(self) -> set[tuple[str, str]]:
        return {(s.get("language"), s.get("voice")) for s in self.twiml.iter("Say")}


def steps(engine, caller: Caller) -> list[tuple]:
    return rows(engine, "SELECT turn, choice, outcome FROM ivr_call_steps WHERE call_sid = :s ORDER BY turn",
                s=caller.sid)
