"""Normalise AP contacts: canonical email, E.164 phone, and the time zone a reminder's hour is judged in.

Pure functions, run once per changed contact (the results are stored in ``contact_profiles``), never for
every contact every night. Everything is offline: no DNS lookups, no carrier lookups. Problems are worded
without the address itself, so worklists and artifacts never carry it.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType
from phonenumbers.timezone import time_zones_for_number

# Mailbox providers whose misspellings people really type: a domain one edit away from one (after the
# first letter, which people rarely mistype) is a typo. Short or word-like names (aol, gmx, naver, orange)
# are left out: one edit away from them are real company domains.
MAILBOX_PROVIDERS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "hotmail.com", "hotmail.co.uk",
    "hotmail.fr", "outlook.com", "icloud.com", "protonmail.com", "t-online.de",
)
KNOWN_MAILBOX_DOMAINS = frozenset(MAILBOX_PROVIDERS) | {
    "mail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "aol.com", "live.com", "msn.com", "me.com", "mac.com",
    "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com", "free.fr", "sfr.fr", "laposte.net", "ymail.com",
    "naver.com", "orange.fr", "libero.it", "proton.me", "yahoo.fr", "yahoo.de", "outlook.de", "hotmail.de",
}
NO_REPLY_MAILBOXES = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
                      "mailer-daemon", "postmaster", "bounce", "bounces")
SALES_ROLES = ("sales", "account manager", "sales rep", "business development")

ARROW_TEXT = "string[pyarrow]"  # vectorised string operations in Arrow, not per-row Python

LINE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.VOIP: "voip",
}


@dataclass(frozen=True)
class Email:
    address: str | None  # canonical: trimmed, domain lower-cased and IDNA-normalised; None when unusable
    problem: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Phone:
    e164: str | None
    extension: str | None = None
    line_type: str | None = None
    problem: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class TimeZone:
    zone: str
    source: str  # contact | customer | country | phone | company
    ambiguous: bool = False


def _blank(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value) \
        or not str(value).strip()


@lru_cache(maxsize=65_536)
def normalize_email(raw: str | None) -> Email:
    if _blank(raw):
        return Email(None, "no email address", "ask the customer for their accounts-payable mailbox")
    text = str(raw).strip()
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as e:
        return Email(None, f"email is not a valid address: {e}", "correct the address in the ERP")
    domain = valid.ascii_domain.lower()
    typo_of = _provider_typo(domain)
    if typo_of:
        return Email(None, f"email domain {valid.domain!r} looks like a typo of {typo_of!r}",
                     f"confirm with the customer and change the domain to {typo_of}")
    return Email(f"{valid.local_part}@{valid.domain}")


def _provider_typo(domain: str) -> str | None:
    if domain in KNOWN_MAILBOX_DOMAINS:
        return None
    return next((p for p in MAILBOX_PROVIDERS if _one_edit_apart(domain, p)), None)


def _one_edit_apart(a: str, b: str) -> bool:
    """True when a becomes b by one insertion, deletion, substitution or swap of neighbours after the first letter."""
    if abs(len(a) - len(b)) > 1 or a == b or a[:1] != b[:1]:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i + 2:] == b[i + 2:] and a[i:i + 2] == b[i:i + 2][::-1])
    return a[i + 1:] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1:]


@lru_cache(maxsize=65_536)
def normalize_phone(raw: str | None, country: str | None) -> Phone:
    """E.164 with the extension kept apart; national numbers are read in the customer's country."""
    if _blank(raw):
        return Phone(None, problem="no phone number", fix="ask the customer for the AP desk's direct number")
    text = str(raw).strip()
    region = (country or "").upper() or None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        where = f"in {region}" if region else "without the customer's country (add it, or a + prefix)"
        reason = str(e).split(") ", 1)[-1]  # "(1) Missing or invalid default region." -> the sentence
        return Phone(None, problem=f"phone number cannot be read {where}: {reason}",
                     fix="correct the number in the ERP, in international form (+country code)")
    if not phonenumbers.is_valid_number(number):
        return Phone(None, problem=f"phone number is not a valid number{f' for {region}' if region else ''}",
                     fix="correct the number in the ERP, in international form (+country code)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, number.extension or None, LINE_TYPES.get(phonenumbers.number_type(number), "other"))


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country -> its IANA zones, most populous first (tzdata's zone.tab order within a country)."""
    text = importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, zone = line.split("\t")[:3]
            zones.setdefault(code, []).append(zone)
    return {code: tuple(z) for code, z in zones.items()}


@cache
def _zone(name: str | None) -> str | None:
    if _blank(name):
        return None
    try:
        ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return str(name).strip()


@lru_cache(maxsize=65_536)
def _phone_zones(e164: str | None) -> tuple[str, ...]:
    if not e164:
        return ()
    zones = time_zones_for_number(phonenumbers.parse(e164))
    return tuple(z for z in zones if _zone(z))


def resolve_time_zone(contact_zone: str | None, customer_zone: str | None, country: str | None,
                      phone_e164: str | None, company_zone: str) -> TimeZone:
    """The contact's zone: explicit on the contact, else the customer's address, else its country, else the
    phone prefix, else the company's. A country or prefix spanning several zones is marked ambiguous."""
    for zone, source in ((contact_zone, "contact"), (customer_zone, "customer")):
        if _zone(zone):
            return TimeZone(_zone(zone), source)
    country_zones = _country_zones().get((country or "").upper(), ())
    if _same_clock(country_zones):
        return TimeZone(country_zones[0], "country")
    phone_zones = _phone_zones(phone_e164)
    both = tuple(z for z in phone_zones if z in country_zones) if country_zones else phone_zones
    if _same_clock(both):
        return TimeZone(both[0], "phone")
    if both or country_zones:
        return TimeZone((both or country_zones)[0], "phone" if both else "country", ambiguous=True)
    return TimeZone(company_zone, "company")


@cache
def _same_clock(zones: tuple[str, ...]) -> bool:
    """True when all zones (at least one) show the same local time in January and in July."""
    probes = (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC))
    return len({tuple(t.astimezone(ZoneInfo(z)).utcoffset() for t in probes) for z in zones}) == 1


def addressees(roles: pd.Series, emails: pd.Series, ap_roles: tuple[str, ...]) -> pd.Series:
    """Who a reminder to each contact reaches: accounts_payable, no_reply, sales, or other.

    A no-reply mailbox is no-reply whatever its role says.
    """
    mailbox = emails.astype(ARROW_TEXT).fillna("").str.replace(r"[+@].*$", "", regex=True).str.strip().str.lower()
    role = roles.astype(ARROW_TEXT).fillna("").str.strip().str.lower()
    squashed = role.str.replace(r"[\s_-]", "", regex=True)
    conditions = [mailbox.isin(NO_REPLY_MAILBOXES), role.isin([r.strip().lower() for r in ap_roles]),
                  squashed.isin(("noreply", "donotreply")), role.isin(SALES_ROLES)]
    kind = np.select([c.to_numpy(bool) for c in conditions], ["no_reply", "accounts_payable", "no_reply", "sales"],
                     default="other")
    return pd.Series(kind, index=roles.index, dtype=object)


PROFILE_COLUMNS = ("email", "email_problem", "email_fix", "phone_e164", "phone_extension", "phone_line_type",
                   "phone_problem", "phone_fix", "time_zone", "time_zone_source", "time_zone_ambiguous")


def normalize_contacts(contacts: pd.DataFrame, company_zone: str) -> pd.DataFrame:
    """One profile row per contact (same index), from the contact's raw fields and its customer's address.

    Expects columns raw_email, raw_phone, raw_time_zone, country, customer_time_zone.
    """
    rows = []
    for email, phone, zone, country, customer_zone in zip(
        contacts["raw_email"], contacts["raw_phone"], contacts["raw_time_zone"], contacts["country"],
        contacts["customer_time_zone"], strict=True,
    ):
        country = None if _blank(country) else str(country).strip().upper()
        e = normalize_email(None if _blank(email) else str(email))
        p = normalize_phone(None if _blank(phone) else str(phone), country)
        tz = resolve_time_zone(zone, customer_zone, country, p.e164, company_zone)
        rows.append((e.address, e.problem, e.fix, p.e164, p.extension, p.line_type, p.problem, p.fix,
                     tz.zone, tz.source, tz.ambiguous))
    return pd.DataFrame.from_records(rows, columns=PROFILE_COLUMNS, index=contacts.index)
