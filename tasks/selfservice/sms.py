"""Two-way SMS as rules: what a customer's text asks for, and the words of arpilot's answer.

Keywords are read the way Twilio reads them for its own opt-out handling: the whole text, trimmed, any case,
trailing punctuation ignored. On long codes and toll-free numbers Twilio answers STOP, START and HELP itself and
stops delivering to a number that sent STOP, so arpilot records the change and answers nothing (no second reply);
on a short code outside a messaging service arpilot answers them (the phone desk says which). Every other command
is the first word: BAL (BALANCE), PAID, PROMISE <date>; anything else is text for the collector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from reports.formats import money

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
BALANCE_WORDS = frozenset({"BAL", "BALANCE"})
KEYWORDS = frozenset({"stop", "start", "help"})  # Twilio answers these itself unless told not to

_MONTHS = {m: n for n, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                       "DEC"), start=1)}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:ST|ND|RD|TH)?\s+([A-Z]{3})[A-Z]*\.?(?:\s+(\d{4}))?$")
_MONTH_DAY = re.compile(r"^([A-Z]{3})[A-Z]*\.?\s+(\d{1,2})(?:ST|ND|RD|TH)?,?(?:\s+(\d{4}))?$")
PROMISE_FORMAT = "PROMISE 2026-12-15 (or PROMISE 15 Dec)"


@dataclass(frozen=True)
class Command:
    kind: str  # stop | start | help | balance | paid | promise | other
    text: str  # the text as sent, trimmed
    promised_for: date | None = None
    problem: str | None = None  # a PROMISE whose date could not be read, or is past


def keyword(body: str) -> str:
    return body.strip().rstrip(".!?").strip().upper()


def read_command(body: str, today: date) -> Command:
    text, word = body.strip(), keyword(body)
    if word in STOP_WORDS:
        return Command("stop", text)
    if word in START_WORDS:
        return Command("start", text)
    if word in HELP_WORDS:
        return Command("help", text)
    first, _, rest = word.partition(" ")
    if word in BALANCE_WORDS:
        return Command("balance", text)
    if first == "PAID":
        return Command("paid", text)
    if first == "PROMISE":
        try:
            promised = promise_date(rest.strip(), today)
        except ValueError as why:
            return Command("promise", text, problem=str(why))
        return Command("promise", text, promised_for=promised)
    return Command("other", text)


def promise_date(text: str, today: date) -> date:
    """2026-12-15, 15 Dec, Dec 15, 15 December 2026: never 12/05 (day or month first cannot be told apart).
    Without a year, the next such day from today on. A past date or an unreadable one raises ValueError."""
    try:
        if found := _ISO.match(text):
            day = date(*map(int, found.groups()))
        elif (found := _DAY_MONTH.match(text)) or (found := _MONTH_DAY.match(text)):
            groups = found.groups()
            number, month = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
            if month not in _MONTHS:
                raise ValueError(f"no month {month!r}")
            day = date(int(groups[2]) if groups[2] else today.year, _MONTHS[month], int(number))
            if not groups[2] and day < today:
                day = day.replace(year=today.year + 1)
        else:
            raise ValueError(f"no date in {text!r}")
    except ValueError as why:
        raise ValueError(f"the date could not be read ({why}); please write {PROMISE_FORMAT}") from None
    if day < today:
        raise ValueError(f"{day.isoformat()} has passed; please give a date from today on")
    return day


def balance_text(balances: dict[str, dict[str, int]], names: dict[str, str], locale: str) -> str:
    """'Acme GmbH: $1,250.00 and €500.00 open.' per customer; one amount per currency, never added together."""
    parts = []
    for customer, name in names.items():
        owed = [money(cents, currency, locale) for currency, cents in sorted(balances.get(customer, {}).items())
                if cents > 0]
        parts.append(f"{name}: {' and '.join(owed)} open." if owed else f"{name}: nothing open.")
    return " ".join(parts)


def help_text(company: str, desk: str) -> str:
    return (f"{company} accounts receivable: {desk}. Reply BAL for your balance, {PROMISE_FORMAT} to promise a "
            "payment, STOP to stop texts.")


def stopped_text(company: str) -> str:
    return f"{company}: you will get no more texts from this number. Reply START to receive them again."


def started_text(company: str) -> str:
    return f"{company}: texts from this number are on again. Reply HELP for help, STOP to stop."


def unknown_number_text(desk: str) -> str:
    return f"We could not find your account from this number. Please contact us: {desk}."


PAID_TEXT = "Thank you. We have told your account manager, who will match your payment."
OTHER_TEXT = "Thank you. Your message has been passed to your account manager."
PROMISE_PASSED_TEXT = "Thank you. Your account manager will confirm your promise to pay by {day}."
PROMISE_RECORDED_TEXT = "Thank you. We noted your promise to pay {amount} by {day}."
