"""Twilio's webhooks under load: p95 response time at 100 concurrent requests, on SQLite and on PostgreSQL.

    .venv/bin/python bench/webhooks.py --invoices 100000 --customers 10000 --concurrency 100 --requests 5000

1. A warehouse with that many open invoices over that many customers (bench/portal.py's), one AP contact with a
   phone number per customer and a sent SMS in the outbox per customer, is written straight into the database
   (untimed). `--postgres` runs it on a throwaway local PostgreSQL server (Debian's postgresql) instead of SQLite.
2. `arpilot serve`'s app with the phone desk runs under uvicorn on loopback in a process of its own, as in
   production (one process, no access log); the load generator runs in this one (so both share the 2 cores).
3. ``concurrency`` clients each send signed requests back to back (closed loop, a new connection each, as Twilio
   opens them), a mix of what Twilio sends: a customer's text asking BAL (balance looked up and answered), a free
   text (put on the collector's worklist), a delivery status callback (the outbox row updated) and, where the
   app has it, an incoming call (the IVR's first answer). Every request is new, so all are believed and written.
The last line printed is a JSON object: warehouse, invoices, customers, concurrency, requests, errors, per-kind
p95, and p50_ms, p95_ms, max_ms, requests_per_s over all requests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import uvicorn  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.portal import COMPANY, GATEWAY, TODAY, build_warehouse  # noqa: E402
from blocks.dunning_policy import DunningPolicy  # noqa: E402
from blocks.pay_portal import PayPortal  # noqa: E402
from blocks.phone_desk import PhoneDesk  # noqa: E402
from blocks.twilio_channel import TwilioChannel  # noqa: E402
from blocks.warehouse import create_warehouse_engine  # noqa: E402
from tasks import warehouse as wh  # noqa: E402
from tasks.portal.app import create_app  # noqa: E402
from tasks.selfservice.webhooks import TwilioWebhooks  # noqa: E402

TOKEN = "bench-twilio-auth-token-0123456789"
ACCOUNT = "AC" + "b" * 32
DESK_NUMBER = "+13125550100"
STATUSES = ("queued", "sent", "delivered", "read")


def phone(n: int) -> str:
    return f"+1212{n:07d}"


def add_phones(url: str, customers: int) -> None:
    """One AP contact with a phone per customer, and one sent SMS per customer for the status callbacks."""
    engine = create_warehouse_engine(url)
    at = wh.utcnow()
    ids = [f"C{n:06d}" for n in range(customers)]
    with engine.begin() as conn:
        wh.insert(conn, "contacts", pd.DataFrame({
            "contact_id": [f"{c}-K0" for c in ids], "customer_id": ids, "name": "Pat Doe",
            "phone": [phone(n) for n in range(customers)], "row_hash": 0, "synced_at": at}))
        wh.insert(conn, "dunning_outbox", pd.DataFrame({
            "outbox_key": [f"{c}|USD|7|{TODAY}|sms" for c in ids], "customer_id": ids, "currency": "USD", "step": 7,
            "channel": "sms", "planned_on": TODAY.isoformat(), "bucket": "1-30", "amount_cents": 100_000,
            "invoices": 1, "status": "sent", "provider_id": [f"SM{n:032d}" for n in range(customers)],
            "run_id": "bench", "owner": "bench", "lease_until": at, "reserved_at": at, "completed_at": at}))
    engine.dispose()


def _serve(url: str, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    portal = PayPortal(base_url=base, signing_key=SecretStr("bench-key-" + "x" * 30))
    channel = TwilioChannel(account_sid=ACCOUNT, auth_token=SecretStr(TOKEN), from_number=DESK_NUMBER,
                            api_base_url="http://127.0.0.1:9")
    desk = PhoneDesk(twilio=channel, dunning_policy=DunningPolicy(pay_portal=portal, ar_phone=DESK_NUMBER),
                     desk_contact="ar@northwind.example")
    app = create_app(portal, GATEWAY, COMPANY, create_warehouse_engine(url), today=lambda: TODAY,
                     twilio=TwilioWebhooks(desk, COMPANY, base))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def requests_for(count: int, customers: int, kinds: list[str], seed: int) -> list[tuple[str, str, dict]]:
    """(kind, path, Twilio's parameters) for ``count`` requests, each new (its own sid)."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        kind, who = kinds[n % len(kinds)], rng.randrange(customers)
        sid = f"{n:032x}"
        if kind == "sms_balance" or kind == "sms_text":
            body = "BAL" if kind == "sms_balance" else "We paid invoice INV-00000042 last Friday"
            made.append((kind, "/twilio/sms", {"MessageSid": "SM" + sid, "AccountSid": ACCOUNT, "From": phone(who),
                                               "To": DESK_NUMBER, "Body": body, "NumMedia": "0"}))
        elif kind == "status":  # each outbox row's callbacks in Twilio's order, none twice
            rounds, row = divmod(n // len(kinds), customers)
            made.append((kind, "/twilio/status", {"MessageSid": f"SM{row:032d}", "AccountSid": ACCOUNT,
                                                  "MessageStatus": STATUSES[rounds % len(STATUSES)],
                                                  "To": phone(row), "From": DESK_NUMBER}))
        else:
            made.append((kind, "/twilio/voice", {"CallSid": "CA" + sid, "AccountSid": ACCOUNT, "From": phone(who),
                                                 "To": DESK_NUMBER, "CallStatus": "ringing", "Direction": "inbound"}))
    return made


def measure(url: str, customers: int, concurrency: int, count: int, seed: int) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, port), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        time.sleep(0.1)
    validator = RequestValidator(TOKEN)
    kinds = ["sms_balance", "sms_text", "status"]
    if _answers(base + "/twilio/voice"):
        kinds.append("voice")
    work = requests_for(count, customers, kinds, seed)
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[str] = []
    lock = threading.Lock()
    next_request = iter(work)

    def client() -> None:
        while True:
            with lock:
                item = next(next_request, None)
            if item is None:
                return
            kind, path, params = item
            request = urllib.request.Request(base + path, data=urlencode(params).encode(), method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(base + path, params)})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answer.read()
                took = time.perf_counter() - started
                with lock:
                    latencies[kind].append(took)
            except (OSError, urllib.error.HTTPError) as failed:
                with lock:
                    errors.append(f"{kind}: {failed}")

    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.join(timeout=10)
    every = sorted(x for v in latencies.values() for x in v)
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[0]}", file=sys.stderr)
    return {"concurrency": concurrency, "requests": len(work), "errors": len(errors),
            **{f"{k}_p95_ms": _ms(_p95(sorted(v))) for k, v in latencies.items() if v},
            "p50_ms": _ms(statistics.median(every)), "p95_ms": _ms(_p95(every)), "max_ms": _ms(every[-1]),
            "requests_per_s": round(len(every) / elapsed, 1)}


def _answers(url: str) -> bool:
    """Does the app have this route (an unsigned POST is refused with 403, an unknown path gets 404)?"""
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    except urllib.error.HTTPError as refused:
        return refused.code != 404
    return True


def _p95(ordered: list[float]) -> float:
    return ordered[int(0.95 * (len(ordered) - 1))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def run(invoices: int, customers: int, concurrency: int, count: int, postgres: bool, seed: int = 7) -> dict:
    with contextlib.ExitStack() as stack:
        if postgres:
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_server import postgres_server

            url = stack.enter_context(postgres_server())
        else:
            url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory(prefix='arpilot-hooks-'))}/w.sqlite"
        started = time.perf_counter()
        build_warehouse(url, invoices, customers, seed).dispose()
        add_phones(url, customers)
        print(f"warehouse: {invoices:,} invoices, {customers:,} customers in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
        return {"warehouse": "postgresql" if postgres else "sqlite", "invoices": invoices, "customers": customers,
                **measure(url, customers, concurrency, count, seed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--postgres", action="store_true", help="a throwaway local PostgreSQL instead of SQLite")
    args = parser.parse_args()
    print(json.dumps(run(args.invoices, args.customers, args.concurrency, args.requests, args.postgres)))


if __name__ == "__main__":
    main()
