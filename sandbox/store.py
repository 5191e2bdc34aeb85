"""Where the sandbox servers keep what they receive: numbered files, written atomically, readable from another
process; and the seeded faults both servers can answer with."""


from __future__ import annotations

import email
import email.policy
import json
import os
import random
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

_SEQUENCE = re.compile(r"^(\d{6,})[.-]")


def _sequence(path: Path) -> int:
    """The arrival number in a stored file's name; 0 for anything else (temp files start with a dot)."""
    match = _SEQUENCE.match(path.name)
    return int(match[1]) if match else 0


def sequenced(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _sequence(p) and p.name.endswith(suffix)), key=_sequence)


class Faults:
    """Refuse a share of requests at random (seeded, so a run can be repeated), and log each refusal."""

    def __init__(self, share: float, seed: int | None):
        if not 0 <= share < 1:
            raise ValueError(f"fault share must be in [0, 1), not {share}")
        self.share = share
        self._random = random.Random(seed)

    def strike(self) -> bool:
        return self.share > 0 and self._random.random() < self.share

    def pick(self, choices: list) -> Any:
        return self._random.choice(choices)


class Scripted:
    """What a test scripts on a stand-in beside the random faults: refuse the next requests before they run, or run
    them and answer late (after the client's timeout). Mixed into a server holding ``self._lock``."""

    _failures, _failure_status = 0, 503
    _slow, _slow_seconds = 0, 0.0

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with 429 or a 5xx, doing and keeping nothing."""
        if status != 429 and not 500 <= status < 600:
            raise ValueError(f"status must be 429 or 5xx, not {status}")
        with self._lock:
            self._failures, self._failure_status = count, status

    def answer_late(self, count: int, seconds: float) -> None:
        """Do the next ``count`` creates, but answer each only after ``seconds``."""
        with self._lock:
            self._slow, self._slow_seconds = count, seconds


class NumberedFolder:
    """Files named NNNNNN<suffix>, numbered after those already present so a restarted server never overwrites.

    Not locked itself: each server writes under its own lock, which also keeps its in-memory list in file order.
    """

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._last = max(map(_sequence, folder.iterdir()), default=0)

    def write(self, suffix: str, data: bytes) -> Path:
        """Temp file then os.replace, so a reader in another process never sees half a message."""
        self._last += 1
        path = self.folder / f"{self._last:06d}{suffix}"
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)
        return path


def parse_mail(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message



def read_received(folder: Path) -> tuple[list[EmailMessage], list[dict]]:
    """What a sandbox run with --folder FOLDER accepted so far, in arrival order; it may live in another process."""
    mails = [parse_mail(path.read_bytes()) for path in sequenced(folder / "mail", ".eml")]
    requests = [json.loads(path.read_text()) for path in sequenced(folder / "twilio", ".json")]
    return mails, requests


def read_refused(folder: Path) -> tuple[list[EmailMessage], list[dict]]:
    """What a sandbox run with --folder FOLDER refused so far: mails, and Twilio requests ({"status", "form"})."""
    mails = [parse_mail(path.read_bytes()) for path in sequenced(folder / "mail", ".refused")]
    requests = [json.loads(path.read_text()) for path in sequenced(folder / "twilio", ".refused")]
    return mails, requests
