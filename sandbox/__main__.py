"""Local stand-ins for the SMTP relay and Twilio that the demo and the tests send through instead of the real ones.

Both are real servers speaking the real protocols, so yagmail/smtplib and the twilio client library run unmodified
against them. Everything accepted is kept in memory and also written to a folder (one file per message, written
atomically and numbered in arrival order), so a test can count what arrived even when the sender was another process.

  python -m sandbox --folder DIR [--account-sid AC... --auth-token T] [--smtp-user U --smtp-password P]

runs both until SIGTERM/SIGINT, after printing one JSON line: {"smtp_port": N, "twilio_url": "http://127.0.0.1:N"}.
With --fault-share 0.2 about one SMTP DATA in five is answered 451 and one Twilio create in five 503 or 429, as
a busy relay or API does; each refusal is written beside what was accepted, as NNNNNN.refused.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from sandbox.smtp_relay import CaptureSmtpServer
from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioTestServer


def main(argv: list[str] | None = None) -> None:
    """Run both servers in their own process, so they outlive a sender that is killed mid-run."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local SMTP relay and Twilio API.")
    parser.add_argument("--folder", type=Path, required=True, help="mail goes to FOLDER/mail, Twilio to FOLDER/twilio")
    parser.add_argument("--account-sid", default=SANDBOX_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=SANDBOX_AUTH_TOKEN)
    parser.add_argument("--smtp-user")
    parser.add_argument("--smtp-password")
    parser.add_argument("--fault-share", type=float, default=0, help="refuse this share of sends for now (0-1)")
    parser.add_argument("--fault-seed", type=int)
    args = parser.parse_args(argv)

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with (
        CaptureSmtpServer(args.folder / "mail", args.smtp_user, args.smtp_password, args.fault_share,
                          args.fault_seed) as smtp,
        TwilioTestServer(args.folder / "twilio", args.account_sid, args.auth_token, args.fault_share,
                         None if args.fault_seed is None else args.fault_seed + 1) as twilio,
    ):
        print(json.dumps({"smtp_port": smtp.port, "twilio_url": twilio.base_url}), flush=True)
        stopping.wait()


if __name__ == "__main__":
    main()
