"""A local Twilio-compatible API for the demo and the tests: the real twilio client runs unmodified against it."""


from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from sandbox.store import HOST, Faults, NumberedFolder, Scripted
from sandbox.twilio_calls import CallTranscript, play_call, post_signed

SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<resource>[^/]+)$")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class TwilioRequest:
    kind: Literal["sms", "voice"]
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str | None
    twiml: str | None
    url: str | None
    params: dict[str, str]
    path: Path


class _TwilioApiError(Exception):
    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def payload(self) -> dict[str, Any]:
        """Twilio's legacy error shape, which the twilio client turns into TwilioRestException(status, code)."""
        more_info = f"https://www.twilio.com/docs/errors/{self.code}"
        return {"code": self.code, "message": self.message, "more_info": more_info, "status": self.status}


def _num_segments(body: str) -> int:
    """How Twilio splits a body: GSM-7 160 septets (153 when concatenated), otherwise UCS-2 70 (67)."""
    if set(body) <= _GSM7 | _GSM7_EXTENDED:
        units, single, multi = len(body) + sum(c in _GSM7_EXTENDED for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


class _TwilioHttpServer(ThreadingHTTPServer):
    sandbox: TwilioTestServer


class _TwilioHandler(BaseHTTPRequestHandler):
    server: _TwilioHttpServer

    def do_POST(self) -> None:
        content = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = dict(parse_qsl(content, keep_blank_values=True))
        self._reply(*self.server.sandbox._answer(self.path, self.headers.get("Authorization"), form))

    def do_GET(self) -> None:
        self._reply(*self.server.sandbox._list(self.path, self.headers.get("Authorization")))

    def _reply(self, status: int, payload: dict, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo and the tests report what was sent themselves."""


class TwilioTestServer(Scripted):
    """Twilio's REST API 2010-04-01 (Messages and Calls create) on 127.0.0.1, as far as the twilio client uses it.

    Refusals use Twilio's error codes. `opted_out` refuses SMS and calls alike, `landlines` only SMS. A text or call
    created with a StatusCallback has its delivery reported there, signed, as Twilio reports it: delivered and
    completed, or for a number in `unreachable` undelivered (carrier error 30003) and failed. It also plays
    Twilio's part for inbound traffic: `send_inbound_sms` posts a customer's text to a webhook, signed as Twilio signs,
    and `place_inbound_call` plays a customer's call through the voice webhooks (sandbox/twilio_calls.py); with
    `answer_placed_calls` the calls created through the API are answered and played too.
    """

    def __init__(self, folder: Path, account_sid: str, auth_token: str, fault_share: float = 0,
                 fault_seed: int | None = None):
        self.host = HOST
        self.opted_out: set[str] = set()
        self.landlines: set[str] = set()
        self.unreachable: set[str] = set()
        self.delivery_reports: list[tuple[str, dict[str, str], int]] = []  # (url, parameters, the webhook's status)
        self._account_sid = account_sid
        self._credentials = f"{account_sid}:{auth_token}".encode()
        self._auth_token = auth_token
        self._store = NumberedFolder(folder)
        self._lock = threading.Lock()
        self._requests: list[TwilioRequest] = []
        self._resources: list[tuple[str, datetime, dict[str, Any]]] = []  # (kind, created, representation)
        self._faults = Faults(fault_share, fault_seed)
        self._httpd: _TwilioHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._answering: dict[str, Any] | None = None  # how calls placed through the API are answered, if they are
        self._players: list[threading.Thread] = []
        self._placed_calls: list[CallTranscript] = []

    def send_inbound_sms(self, url: str, from_: str, body: str, to: str = "+15005550006") -> tuple[int, str]:
        """A customer's text as Twilio delivers it: the webhook's form parameters POSTed to ``url``, signed with this
        account's auth token (X-Twilio-Signature, the twilio library's own algorithm). Returns the webhook's status
        and answer (TwiML)."""
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": self._account_sid,
                  "From": from_, "To": to, "Body": body, "NumMedia": "0", "NumSegments": str(_num_segments(body)),
                  "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        return post_signed(url, params, self._auth_token)

    def place_inbound_call(self, url: str, from_: str, keys: Iterable[str] = (), to: str = "+15005550006",
                           voicemail_transcript: str | None = None) -> CallTranscript:
        """A customer's call to the number whose "A call comes in" webhook is ``url``, played as Twilio plays it
        (sandbox/twilio_calls.py): each Gather answered with the next of ``keys`` ("1", "42"...), each request
        signed with this account's auth token."""
        params = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": self._account_sid, "From": from_, "To": to,
                  "Caller": from_, "Called": to, "CallStatus": "ringing", "Direction": "inbound",
                  "ApiVersion": "2010-04-01"}
        return play_call(url, params, self._auth_token, keys, voicemail_transcript)

    def answer_placed_calls(self, keys: Iterable[str] = (), conversation: Sequence[tuple[str, str]] = (),
                            dial_status: str = "completed") -> None:
        """From now on a call created with a TwiML ``Url`` is answered and played as Twilio plays it: its Url fetched
        (signed POST, Direction outbound-api, CallStatus in-progress), each Gather answered with the next of ``keys``,
        a Dial answered with ``dial_status`` and held with ``conversation`` (sandbox/twilio_calls.py), then its
        StatusCallback told the call completed. Until then such calls are only recorded, as before."""
        self._answering = {"keys": list(keys), "conversation": list(conversation), "dial_status": dial_status}

    def _in_background(self, work, *args: Any) -> None:
        player = threading.Thread(target=work, args=args, name="twilio-sandbox-call", daemon=True)
        with self._lock:
            self._players.append(player)
        player.start()

    def _report_delivery(self, kind: str, sid: str, form: dict[str, str]) -> None:
        """What the carrier did, as Twilio's status callbacks say it: a text sent then delivered (or undelivered),
        a call completed (or failed). It may come before the sender has recorded the API's answer, as Twilio's can."""
        to, lost = form["To"], form["To"] in self.unreachable
        common = {"AccountSid": self._account_sid, "From": form.get("From", ""), "To": to, "ApiVersion": "2010-04-01"}
        if kind == "sms":
            steps = [{"MessageSid": sid, "SmsSid": sid, "MessageStatus": "sent", "SmsStatus": "sent"},
                     {"MessageSid": sid, "SmsSid": sid, "MessageStatus": "undelivered" if lost else "delivered",
                      "SmsStatus": "undelivered" if lost else "delivered", **({"ErrorCode": "30003"} if lost else {})}]
        else:
            steps = [{"CallSid": sid, "CallStatus": "failed" if lost else "completed", "CallDuration": "0" if lost
                      else "35", "Direction": "outbound-api"}]
        for step in steps:
            params = {**common, **step}
            try:
                status, _ = post_signed(form["StatusCallback"], params, self._auth_token)
            except OSError:  # nobody listening: Twilio, too, gives up on a callback
                status = 0
            with self._lock:
                self.delivery_reports.append((form["StatusCallback"], params, status))

    def settled(self, timeout: float = 30) -> None:
        """Wait for every delivery report and placed call under way."""
        with self._lock:
            players = list(self._players)
        for player in players:
            player.join(timeout)

    def placed_calls(self, timeout: float = 30) -> list[CallTranscript]:
        """The calls played since ``answer_placed_calls``, once each has ended."""
        self.settled(timeout)
        with self._lock:
            return list(self._placed_calls)

    def _play_placed_call(self, sid: str, form: dict[str, str], answering: dict[str, Any]) -> None:
        params = {"CallSid": sid, "AccountSid": self._account_sid, "From": form.get("From", ""), "To": form["To"],
                  "Caller": form.get("From", ""), "Called": form["To"], "CallStatus": "in-progress",
                  "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        call = play_call(form["Url"], params, self._auth_token, **answering)
        if form.get("StatusCallback"):
            done = {**params, "CallStatus": "completed", "CallDuration": "60"}
            call.requests.append((form["StatusCallback"], post_signed(form["StatusCallback"], done,
                                                                      self._auth_token)[0]))
        with self._lock:
            self._placed_calls.append(call)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[TwilioRequest]:
        with self._lock:
            return list(self._requests)

    def start(self) -> None:
        assert self._httpd is None, "already started"
        self._httpd = _TwilioHttpServer((self.host, 0), _TwilioHandler)
        self._httpd.sandbox = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-sandbox", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        assert self._httpd is not None and self._thread is not None, "not started"
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()
        self._httpd = self._thread = None

    def __enter__(self) -> TwilioTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, path: str, authorization: str | None, form: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
        """(status, JSON body, extra headers) for one POST; called on the request's own thread."""
        try:
            kind = self._check(urlsplit(path).path, authorization, form)
            with self._lock:
                if self._failures or self._faults.strike():
                    error = self._failure() if self._failures else _TwilioApiError(
                        *self._faults.pick([(503, 20503, "Service Unavailable"), (429, 20429, "Too Many Requests")]))
                    self._failures = max(self._failures - 1, 0)
                    self._store.write(".refused", json.dumps({"status": error.status, "form": form}).encode())
                    raise error
                resource = self._record(kind, form)
                self._resources.append((kind, datetime.now(UTC), resource))
                slow, self._slow = self._slow, max(self._slow - 1, 0)
                answering = self._answering if kind == "voice" and form.get("Url") else None
            if answering is not None:  # Twilio rings the number and, once answered, fetches the call's TwiML
                self._in_background(self._play_placed_call, resource["sid"], form, answering)
            elif form.get("StatusCallback"):
                self._in_background(self._report_delivery, kind, resource["sid"], form)
            if slow:  # created, but the answer comes too late for the client
                time.sleep(self._slow_seconds)
            return 201, resource, {}
        except _TwilioApiError as error:
            return error.status, error.payload(), error.headers

    def _list(self, path: str, authorization: str | None) -> tuple[int, dict, dict[str, str]]:
        """GET Messages.json / Calls.json, newest first, filtered by To and created-after (DateSent> /
        StartTime>), one page. Here every message is created and "sent" at once, so both filters compare the
        creation time.
        """
        parts = urlsplit(path)
        match = _TWILIO_PATH.match(parts.path)
        if not (match and match["account"] == self._account_sid and self._authorized(authorization)):
            error = _TwilioApiError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
            return error.status, error.payload(), error.headers
        kinds = {"Messages.json": ("sms", "messages", "DateSent>"), "Calls.json": ("voice", "calls", "StartTime>")}
        if match["resource"] not in kinds:
            error = _TwilioApiError(404, 20404, f"The requested resource {parts.path} was not found")
            return error.status, error.payload(), error.headers
        kind, key, after = kinds[match["resource"]]
        query = dict(parse_qsl(parts.query))
        since = datetime.fromisoformat(query[after].replace("Z", "+00:00")) if after in query else None
        with self._lock:
            found = [r for k, created, r in reversed(self._resources) if k == kind
                     and r["to"] == query.get("To", r["to"]) and (since is None or created >= since)]
        return 200, {key: found, "next_page_uri": None, "page": 0, "page_size": len(found), "start": 0,
                     "end": max(len(found) - 1, 0), "uri": path, "first_page_uri": path,
                     "previous_page_uri": None}, {}

    def _check(self, path: str, authorization: str | None, form: dict[str, str]) -> Literal["sms", "voice"]:
        match = _TWILIO_PATH.match(path)
        if not (match and match["account"] == self._account_sid and self._authorized(authorization)):
            raise _TwilioApiError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        kind: Literal["sms", "voice"]
        if match["resource"] == "Messages.json":
            kind = "sms"
        elif match["resource"] == "Calls.json":
            kind = "voice"
        else:
            raise _TwilioApiError(404, 20404, f"The requested resource {path} was not found")
        to = form.get("To", "")
        if not _E164.match(to):
            raise _TwilioApiError(400, 21211, "Invalid 'To' Phone Number")
        if kind == "sms" and not (form.get("From") or form.get("MessagingServiceSid")):
            raise _TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if kind == "sms" and not form.get("Body"):
            raise _TwilioApiError(400, 21602, "Message body is required.")
        if to in self.opted_out:
            raise _TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        if kind == "sms" and to in self.landlines:
            raise _TwilioApiError(400, 21614, "'To' number is not a valid mobile number")
        return kind

    def _authorized(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            return scheme.lower() == "basic" and base64.b64decode(encoded, validate=True) == self._credentials
        except binascii.Error:
            return False

    def _failure(self) -> _TwilioApiError:
        if self._failure_status == 429:
            return _TwilioApiError(429, 20429, "Too Many Requests", {"Retry-After": "1"})
        return _TwilioApiError(self._failure_status, 20500, "Internal Server Error")

    def _record(self, kind: Literal["sms", "voice"], form: dict[str, str]) -> dict[str, Any]:
        """Store the accepted request (caller holds the lock) and build Twilio's resource representation of it."""
        sid = ("SM" if kind == "sms" else "CA") + secrets.token_hex(16)
        to, from_, service = form["To"], form.get("From"), form.get("MessagingServiceSid")
        record = {
            "kind": kind, "sid": sid, "to": to, "from": from_, "messaging_service_sid": service,
            "body": form.get("Body"), "twiml": form.get("Twiml"), "url": form.get("Url"), "params": form,
        }
        path = self._store.write(f"-{kind}.json", json.dumps(record, indent=2).encode())
        self._requests.append(
            TwilioRequest(kind, sid, to, from_, service, record["body"], record["twiml"], record["url"], form, path)
        )
        now = format_datetime(datetime.now(UTC))
        base = f"/2010-04-01/Accounts/{self._account_sid}"
        common = {
            "sid": sid, "account_sid": self._account_sid, "to": to, "from": from_, "status": "queued",
            "date_created": now, "date_updated": now, "direction": "outbound-api", "price": None, "price_unit": "USD",
            "api_version": "2010-04-01",
        }
        if kind == "sms":
            uri = f"{base}/Messages/{sid}"
            return common | {
                "messaging_service_sid": service,
                "body": form["Body"], "num_segments": str(_num_segments(form["Body"])),
                "num_media": "0", "date_sent": None, "error_code": None, "error_message": None, "uri": f"{uri}.json",
                "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            }
        uri = f"{base}/Calls/{sid}"
        return common | {
            "to_formatted": to, "from_formatted": from_, "parent_call_sid": None, "phone_number_sid": None,
            "start_time": None, "end_time": None, "duration": None, "answered_by": None, "annotation": None,
            "forwarded_from": None, "group_sid": None, "caller_name": None, "queue_time": "0", "trunk_sid": None,
            "uri": f"{uri}.json",
            "subresource_uris": {"recordings": f"{uri}/Recordings.json", "events": f"{uri}/Events.json"},
        }

