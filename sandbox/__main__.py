"""Local stand-ins for the SMTP relay, Twilio and Stripe that the demo and the tests use instead of the real ones.

All are real servers speaking the real protocols, so yagmail/smtplib and the twilio and stripe client libraries run
unmodified against them. What the relay and Twilio accept is kept in memory and also written to a folder (one file
per message, written atomically and numbered in arrival order), so a test can count what arrived even when the
sender was another process; Stripe keeps its objects in the server, and its own API lists them.

  python -m sandbox --folder DIR [--account-sid AC... --auth-token T] [--smtp-user U --smtp-password P]
                    [--stripe-secret-key sk_test_... --stripe-settle-seconds S --stripe-no-idempotency]
                    [--fault-share F --fault-seed N --stripe-lost-share L --stripe-late-seconds T]

runs all three until SIGTERM/SIGINT, after printing one JSON line:
{"smtp_port": N, "twilio_url": "http://127.0.0.1:N", "stripe_url": "http://127.0.0.1:N"}.
With --fault-share 0.2 about one SMTP DATA in five is answered 451, one Twilio create in five 503 or 429, and one
Stripe request in five 503 or 429 before it runs, as a busy relay or API does; each SMTP and Twilio refusal is
written beside what was accepted, as NNNNNN.refused. A SEPA debit settles S seconds after it is made (default 2).
With --stripe-lost-share 0.1 one Stripe request in ten loses its answer: a 502 after it ran or, with
--stripe-late-seconds T, a third each answered T seconds after it ran or held up T seconds before it runs (a client
with a shorter timeout gave up).
--stripe-no-idempotency makes Stripe ignore Idempotency-Key, as localstripe itself does: a repeated create charges
again, so a test can show that exactly-once does not lean on the gateway. A test arranges faults and declines later
by POSTing to stripe_url/_config/faults and stripe_url/_config/declines/{payment_method}.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from sandbox.smtp_relay import CaptureSmtpServer
from sandbox.stripe_api import SANDBOX_SECRET_KEY, StripeTestServer
from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioTestServer


def main(argv: list[str] | None = None) -> None:
    """Run the servers in their own process, so they outlive a sender that is killed mid-run."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local SMTP relay, Twilio and Stripe API.")
    parser.add_argument("--folder", type=Path, required=True, help="mail goes to FOLDER/mail, Twilio to FOLDER/twilio")
    parser.add_argument("--account-sid", default=SANDBOX_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=SANDBOX_AUTH_TOKEN)
    parser.add_argument("--smtp-user")
    parser.add_argument("--smtp-password")
    parser.add_argument("--stripe-secret-key", default=SANDBOX_SECRET_KEY)
    parser.add_argument("--stripe-settle-seconds", type=float, default=2.0, help="a SEPA debit settles after this")
    parser.add_argument("--fault-share", type=float, default=0, help="refuse this share of sends for now (0-1)")
    parser.add_argument("--fault-seed", type=int)
    parser.add_argument("--stripe-lost-share", type=float, default=0,
                        help="this share of Stripe requests run, then their answer is lost (502, or late)")
    parser.add_argument("--stripe-late-seconds", type=float, default=0,
                        help="a lost answer may instead come this late (set it above the client's timeout)")
    parser.add_argument("--stripe-no-idempotency", action="store_true",
                        help="ignore Idempotency-Key (replay off), as localstripe itself does")
    args = parser.parse_args(argv)

    def seed(offset: int) -> int | None:
        return None if args.fault_seed is None else args.fault_seed + offset

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with (
        CaptureSmtpServer(args.folder / "mail", args.smtp_user, args.smtp_password, args.fault_share,
                          args.fault_seed) as smtp,
        TwilioTestServer(args.folder / "twilio", args.account_sid, args.auth_token, args.fault_share,
                         seed(1)) as twilio,
        StripeTestServer(args.stripe_secret_key, args.stripe_settle_seconds,
                         replay_idempotency_keys=not args.stripe_no_idempotency, fault_share=args.fault_share,
                         fault_seed=seed(2), lost_share=args.stripe_lost_share,
                         late_seconds=args.stripe_late_seconds) as stripe,
    ):
        print(json.dumps({"smtp_port": smtp.port, "twilio_url": twilio.base_url, "stripe_url": stripe.base_url}),
              flush=True)
        stopping.wait()


if __name__ == "__main__":
    main()
