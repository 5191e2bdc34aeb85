"""A local Stripe API for the demo and the tests: localstripe in-process, so the real stripe client runs against it.

localstripe (a stateful fake Stripe server on aiohttp) answers the v1 API for customers, card and sepa_debit
payment methods, payment and setup intents, charges and events, and posts webhooks signed as Stripe signs them.
Where the charge flow relies on Stripe behaviour that localstripe lacks, this module (and localstripe_patches) adds it:
- Idempotency-Key: a key's first response is replayed (Idempotent-Replayed: true) and the key is refused with other
  parameters (400 idempotency_error), as Stripe does for 24 hours (here: the server's life); localstripe ignores it.
- PaymentIntent list filters by customer and lists newest first; localstripe answers 400 "Unexpected customer".
- A declined charge's 402 is a card_error carrying its payment_intent, as Stripe's is, with the decline_code that
  decline_next chose; localstripe's carries only code card_declined and the charge id.
- A SEPA debit stays `processing` until settled (settle_debits, or settle_after seconds); localstripe succeeds it at
  once and fails only IBAN DE62370400440532013001, 0.5 s later.
- Only the sandbox's secret key gets in (localstripe takes any sk_ key); nothing is written to /tmp/localstripe.pickle.
- A browser page reaches it as Stripe.js reaches Stripe: localstripe's mock Stripe.js calls the routes localstripe
  opens to a publishable key (tokens, confirming or cancelling a SetupIntent, authenticating a PaymentIntent), with
  CORS headers; every other route still needs the secret key.
- Faults a busy gateway or a failing proxy in front of it has: a share of requests refused before they run (503/429),
  and a share whose answer is lost: a 502 after they ran, the answer held back past the client's timeout, or the
  request itself held up on its way and run only after the client gave up.
- Another process (a test whose sender runs as a subprocess) arranges faults and declines through /_config/faults
  and /_config/declines/{payment_method}, settles debits with /_config/debits/settle, and reads how many faults
  were made with GET /_config/faults, as it registers webhooks through localstripe's /_config/webhooks.
localstripe keeps its objects in module globals: one server runs per process at a time, and each starts empty.
"""


from __future__ import annotations

import asyncio
import base64
import binascii
import re
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe.resources import store
from localstripe.webhooks import _webhooks, register_webhook

from sandbox import localstripe_patches
from sandbox.localstripe_patches import Bank, Decline
from sandbox.store import HOST, Faults, Scripted

with warnings.catch_warnings():  # localstripe builds its own aiohttp app at import, with plain-function handlers
    warnings.filterwarnings("ignore", message="Bare functions are deprecated", category=DeprecationWarning)
    from localstripe import server as localstripe_server

SANDBOX_SECRET_KEY = "sk_test_arpilot_sandbox"
SANDBOX_WEBHOOK_SECRET = "whsec_arpilot_sandbox"
SUCCEEDING_IBAN = "DE89370400440532013000"
FAILING_IBAN = "DE62370400440532013001"  # localstripe declines every debit from it
DECLINING_CARD = "4000000000000341"  # attaches to a customer, then every charge on it is declined (card_declined)
AUTHENTICATING_CARD = "4000002500003155"  # off-session confirm leaves the intent in requires_action

_active: StripeTestServer | None = None
_active_lock = threading.Lock()


@dataclass(frozen=True)
class _Saved:
    """A response kept for its idempotency key, with the request it answered."""

    request: tuple[str, tuple[tuple[str, str], ...]]
    status: int
    body: bytes


_IN_FLIGHT = object()


class StripeTestServer(Scripted):
    """localstripe on 127.0.0.1 (its own thread and event loop), empty at start, with the Stripe behaviour above.

    Point the client at it with StripeClient(SANDBOX_SECRET_KEY, base_addresses={"api": server.base_url}).
    fail_next/answer_late/fault_share act before/after a request runs, as the Twilio sandbox's do.
    """

    def __init__(self, secret_key: str = SANDBOX_SECRET_KEY, settle_after: float | None = None,
                 replay_idempotency_keys: bool = True, fault_share: float = 0, fault_seed: int | None = None,
                 lost_share: float = 0, late_seconds: float = 0):
        self.host = HOST
        self._secret_key = secret_key
        self._replay = replay_idempotency_keys
        self._lock = threading.Lock()
        self._faults = self._lost = Faults(0, None)
        self._late_seconds, self._hold_charges = 0.0, 0
        self.faults_made: Counter = Counter()  # requests; refused (before running), lost (502 after), late, held
        self.set_faults(fault_share, fault_seed, lost_share, late_seconds)
        self._bank = Bank(settle_after)
        self._saved: dict[str, _Saved | object] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        assert self._port is not None, "not started"
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_webhook(self, url: str, secret: str = SANDBOX_WEBHOOK_SECRET, events: list[str] | None = None,
                    name: str = "arpilot") -> None:
        """POST every event (or only `events`) to `url`, once, about a second after it happens, never retried.

        Same as POST {base_url}/_config/webhooks/{name} with url, secret, events (how another process does it).
        """
        register_webhook(name, url, secret, events)

    def decline_next(self, payment_method: str, decline_code: str | None, count: int = 1,
                     code: str = "card_declined") -> None:
        """Decline the next `count` charges on `payment_method` (a card, or a debit when it settles) with these codes.

        A card that attached fine and is refused later: insufficient_funds today, paid on a later retry.
        """
        self._bank.decline_next(payment_method, Decline(code, decline_code, count))

    def settle_debits(self) -> int:
        """Settle every debit still processing: succeeded, or failed if declined; returns how many settled."""
        async def settle_all() -> int:
            return self._bank.settle_all()

        return self._call(settle_all)

    def set_faults(self, share: float = 0, seed: int | None = None, lost_share: float = 0,
                   late_seconds: float = 0, hold_charges: int = 0) -> None:
        """From now on refuse `share` of API requests before they run (503 or 429), and lose the answer of
        `lost_share` of the others: a 502 from the proxy after they ran, or (with late_seconds) a third each answered
        only late_seconds after they ran, or held up that long before they run (the client has timed out either way).
        Seeded, so a run can be repeated. The next `hold_charges` PaymentIntent creates are held up so for certain.
        faults_made counts afresh."""
        before, after = Faults(share, seed), Faults(lost_share, None if seed is None else seed + 1)
        with self._lock:
            self._faults, self._lost, self._late_seconds = before, after, late_seconds
            self._hold_charges = hold_charges
            self.faults_made.clear()

    def start(self) -> None:
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError("a StripeTestServer is already running in this process (localstripe is global)")
            _active = self
        try:
            store.clear()
            _webhooks.clear()
            localstripe_patches.bank = self._bank
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="stripe-sandbox", daemon=True)
            self._thread.start()
            self._call(self._serve)
        except BaseException:
            self._shut_down()
            raise

    def stop(self) -> None:
        assert _active is self and self._runner is not None, "not started"
        self._shut_down()

    def __enter__(self) -> StripeTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coroutine_function: Callable[[], Any]) -> Any:
        """Run on the server's loop, where localstripe's objects live, and wait for the result."""
        assert self._loop is not None, "not started"
        return asyncio.run_coroutine_threadsafe(coroutine_function(), self._loop).result(timeout=30)

    async def _serve(self) -> None:
        @web.middleware
        async def gateway(request: web.Request, handler: Any) -> web.StreamResponse:
            return await self._gateway(request, handler)

        # A fresh application each time: aiohttp binds one to its first event loop. localstripe's own middleware
        # that pickles the whole store to /tmp after every write is left out.
        app = web.Application(middlewares=[gateway, localstripe_server.error_middleware,
                                           localstripe_server.auth_middleware])
        for route in localstripe_server.app.router.routes():
            app.router.add_route(route.method, route.resource.canonical, _coroutine(route.handler))
        app.on_response_prepare.append(localstripe_server.add_cors_headers)
        app.router.add_post("/_config/faults", self._config_faults)
        app.router.add_get("/_config/faults", self._faults_made)
        app.router.add_post("/_config/declines/{payment_method}", self._config_declines)
        app.router.add_post("/_config/debits/settle", self._settle_debits)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self._port = self._runner.addresses[0][1]

    def _shut_down(self) -> None:
        """Close the listener, drop webhooks not yet posted, stop the loop; then empty localstripe for the next one."""
        global _active
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            if self._runner is not None:
                self._call(self._close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
        self._loop = self._thread = self._runner = None
        self._port = None
        store.clear()
        _webhooks.clear()
        localstripe_patches.bank = None
        with _active_lock:
            _active = None

    async def _config_faults(self, request: web.Request) -> web.Response:
        """POST share, seed, lost_share, late_seconds, hold_charges: set_faults from another process (absent: 0)."""
        form = await request.post()
        seed = form.get("seed")
        self.set_faults(float(form.get("share", 0)), int(seed) if seed else None, float(form.get("lost_share", 0)),
                        float(form.get("late_seconds", 0)), int(form.get("hold_charges", 0)))
        return web.Response()

    async def _faults_made(self, request: web.Request) -> web.Response:
        """GET: the API requests since faults were last set, and how many were refused, lost or answered late."""
        with self._lock:
            return web.json_response(dict(self.faults_made))

    async def _settle_debits(self, request: web.Request) -> web.Response:
        """POST: settle_debits from another process; answers {"settled": how many}."""
        return web.json_response({"settled": self._bank.settle_all()})

    async def _config_declines(self, request: web.Request) -> web.Response:
        """POST decline_code, count, code: decline_next for the payment method in the path, from another process."""
        form = await request.post()
        self.decline_next(request.match_info["payment_method"], str(form.get("decline_code") or "") or None,
                          int(form.get("count", 1)), str(form.get("code", "card_declined")))
        return web.Response()

    async def _close(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _gateway(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Key check, injected faults and idempotency around localstripe's handlers (its /_config/ stays open)."""
        if not request.path.startswith("/v1/") or _from_stripe_js(request):
            return await handler(request)  # localstripe's own auth decides (a pk_ key on its browser routes)
        if _api_key(request) != self._secret_key:
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        with self._lock:
            self.faults_made["requests"] += 1
            status = self._failure_status if self._failures else 0
            self._failures = max(self._failures - 1, 0)
            if not status and self._faults.strike():
                status = self._faults.pick([503, 429])
        if status:
            with self._lock:
                self.faults_made["refused"] += 1
            if status == 429:
                return _error(429, "invalid_request_error", "Too many requests.", "rate_limit")
            return _error(status, "api_error", "The server is temporarily unavailable.")
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not self._replay:
            return await self._answer(request, handler)
        body = (await request.read()).decode("utf-8", "replace")
        asked = (request.path, tuple(sorted(parse_qsl(body, keep_blank_values=True))))
        saved = self._saved.get(key)
        if saved is _IN_FLIGHT:
            return _error(409, "idempotency_error", "The idempotency key is in use by a request still running.",
                          "idempotency_key_in_use")
        if isinstance(saved, _Saved):
            if saved.request != asked:
                return _error(400, "idempotency_error", "Keys for idempotent requests can only be used with the "
                              f"same parameters they were first used with. Try using a key other than '{key}'.")
            return web.Response(body=saved.body, status=saved.status, content_type="application/json",
                                headers={"Idempotency-Key": key, "Idempotent-Replayed": "true"})
        self._saved[key] = _IN_FLIGHT
        try:
            response = await self._answer(request, handler, lambda r: self._keep(key, asked, r))
        finally:
            if self._saved.get(key) is _IN_FLIGHT:
                del self._saved[key]
        response.headers["Idempotency-Key"] = key
        return response

    def _keep(self, key: str, asked: tuple, response: web.StreamResponse) -> None:
        """Stripe keeps what a request that ran answered (2xx, a decline, a 5xx), not a refusal of its parameters."""
        if isinstance(response, web.Response) and response.body is not None and (
                response.status < 400 or response.status == 402 or response.status >= 500):
            assert isinstance(response.body, bytes)
            self._saved[key] = _Saved(asked, response.status, response.body)

    async def _answer(self, request: web.Request, handler: Any,
                      keep: Callable[[web.StreamResponse], None] | None = None) -> web.StreamResponse:
        with self._lock:
            lost = self._lost.strike() and (self._lost.pick(["lost", "late", "held"]) if self._late_seconds else "lost")
            if self._hold_charges and request.method == "POST" and request.path == "/v1/payment_intents":
                self._hold_charges, lost = self._hold_charges - 1, "held"
            late_seconds = self._late_seconds
            if lost:
                self.faults_made[lost] += 1
                self.faults_made[f"{lost} creates"] += request.method == "POST"
        if lost == "held":  # on its way, for longer than the client waits: it runs after the client gave up
            await request.read()
            await asyncio.sleep(late_seconds)
        response = await handler(request)
        if keep is not None:
            keep(response)
        with self._lock:
            slow = 0
            if request.method == "POST":
                slow, self._slow = self._slow, max(self._slow - 1, 0)
        if slow:
            await asyncio.sleep(self._slow_seconds)
        if lost == "late":  # done, but the client has given up waiting
            await asyncio.sleep(late_seconds)
        elif lost == "lost":  # done, and the proxy in front answers for it
            return _error(502, "api_error", "Bad gateway: the upstream connection was reset.")
        return response


def _coroutine(handler: Callable) -> Callable:
    """aiohttp wants coroutine handlers; localstripe's retrieve, list and delete handlers are plain functions."""
    if asyncio.iscoroutinefunction(handler):
        return handler

    async def answer(request: web.Request) -> web.StreamResponse:
        return handler(request)

    return answer


def _from_stripe_js(request: web.Request) -> bool:
    """A request from a page's Stripe.js: no secret key, on a route localstripe opens to a publishable key."""
    return "Authorization" not in request.headers and request.method == "POST" and any(
        re.match(pattern, request.path) for pattern in _BROWSER_ROUTES)


_BROWSER_ROUTES = (r"^/v1/tokens$", r"^/v1/payment_intents/\w+/_authenticate$", r"^/v1/setup_intents/\w+/confirm$",
                   r"^/v1/setup_intents/\w+/cancel$")


def _api_key(request: web.Request) -> str | None:
    """The secret key the stripe client sends as a bearer token (curl -u sends it as the Basic user)."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer":
        return credential
    if scheme == "Basic":
        try:
            return base64.b64decode(credential).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _error(status: int, kind: str, message: str, code: str | None = None) -> web.Response:
    """Stripe's error shape, which the stripe client turns into the matching StripeError subclass."""
    error = {"type": kind, "message": message} | ({"code": code} if code else {})
    return web.json_response({"error": error}, status=status)
