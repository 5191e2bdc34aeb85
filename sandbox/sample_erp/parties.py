"""Customers and their AP contacts, with the bad contacts the contact checks must catch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.sample_erp.values import (
    Table,
    domain_slug,
    draw_from,
    draw_index,
    flag_rows,
    from_usd,
    in_units,
    iso_dates,
    mailbox_local_part,
    numbered,
    pick_rows,
    random_timestamps,
    repeat_number,
)
from sandbox.sample_erp.world import (
    BAD_CONTACT_KINDS,
    BAD_CONTACT_RATE,
    BATCH_PAYER_SHARE,
    BILLED_IN_USD_SHARE,
    COLLECTORS,
    COUNTRIES,
    CUSTOMER_FLAG_RATES,
    GMAIL_SHARE,
    HISTORY_DAYS,
    IDN_SHARE,
    PAYER_PROFILES,
    SALES_REPS,
    TERMS_DAYS,
    TERMS_SHARE,
)

# --- customers ---------------------------------------------------------------------------------------------

_CITIES = [city for country in COUNTRIES for city in country.cities]


@dataclass
class Customers:
    """The customer table plus the traits that drive their contacts and how they pay."""

    table: Table
    country: np.ndarray  # index into COUNTRIES
    city: np.ndarray  # index into _CITIES
    currency: np.ndarray
    domain: np.ndarray
    gmail_local: np.ndarray  # unique per customer: their AP mailbox at gmail, and where a gmial typo sends it
    activity: np.ndarray  # probability that an invoice is theirs
    size: np.ndarray  # invoice amount multiplier
    mean_delay: np.ndarray  # days paid after due, on average
    spread: np.ndarray
    partial_share: np.ndarray
    never_share: np.ndarray
    batch_payer: np.ndarray
    autopay: np.ndarray

    @property
    def count(self) -> int:
        return self.country.size


def make_customers(rng: np.random.Generator, count: int, as_of_day: int) -> Customers:
    country = rng.choice(len(COUNTRIES), count, p=[c.share for c in COUNTRIES])
    city = draw_index(rng, [c.cities for c in COUNTRIES], country)
    home_currency = np.array([c.currency for c in COUNTRIES])[country]
    currency = np.where(rng.random(count) < BILLED_IN_USD_SHARE, "USD", home_currency).astype(object)
    names, domain_stems, ascii_stems = _company_names(rng, country)
    flagged = pick_rows(rng, count, {flag: round(rate * count) for flag, rate in CUSTOMER_FLAG_RATES.items()})
    flag = {name: flag_rows(count, rows) for name, rows in flagged.items()}
    names[flagged["is_internal"]] = [f"{name} (intercompany)" for name in names[flagged["is_internal"]]]
    profile = rng.choice(len(PAYER_PROFILES), count, p=[p[0] for p in PAYER_PROFILES.values()])
    mean_delay, spread, partial_share, never_share = np.array([p[1:] for p in PAYER_PROFILES.values()])[profile].T
    credit_limit = in_units(from_usd(np.exp(rng.normal(np.log(25_000), 0.8, count)), currency), 100_000)
    paused_until = np.where(flag["dunning_paused"] == 1, iso_dates(as_of_day + rng.integers(7, 62, count)), None)
    activity = np.exp(rng.normal(0, 1, count))
    table = {
        "cust_no": numbered("C", np.arange(1, count + 1), 6),
        "name": names,
        "country": np.array([c.code for c in COUNTRIES])[country],
        "city": np.array([c.name for c in _CITIES])[city],
        "tz": np.where(rng.random(count) < 0.3, None, np.array([c.tz for c in _CITIES])[city]),
        "currency": currency,
        "terms_days": rng.choice(TERMS_DAYS, count, p=TERMS_SHARE),
        "credit_limit": np.maximum(credit_limit, 100_000) / 100,
        "collector": rng.choice(COLLECTORS, count),
        "sales_rep": rng.choice(SALES_REPS, count),
        "autopay": flag["autopay"],
        "credit_hold": flag["credit_hold"],
        "dunning_paused_until": paused_until,
        "dunning_stop": flag["dunning_stop"],
        "is_internal": flag["is_internal"],
        "updated_at": random_timestamps(rng, as_of_day - rng.integers(1, HISTORY_DAYS + 1, count)),
    }
    return Customers(
        table, country, city, currency, domain=domain_stems + "." + np.array([c.tld for c in COUNTRIES])[country],
        gmail_local=np.array([stem.replace("-", ".") + ".ap" for stem in ascii_stems], dtype=object),
        activity=activity / activity.sum(), size=np.exp(rng.normal(0, 0.6, count)),
        mean_delay=mean_delay + rng.normal(0, 3, count), spread=spread, partial_share=partial_share,
        never_share=never_share, batch_payer=rng.random(count) < BATCH_PAYER_SHARE, autopay=flag["autopay"] == 1)


def _company_names(rng: np.random.Generator, country: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Company names, their unique domain stems (IDN for some non-ASCII names) and ASCII stems."""
    fmt = draw_from(rng, [c.name_formats for c in COUNTRIES], country)
    core = draw_index(rng, [c.cores for c in COUNTRIES], country)
    industry = draw_from(rng, [c.industries for c in COUNTRIES], country)
    suffix = draw_from(rng, [c.suffixes for c in COUNTRIES], country)
    idn = rng.random(country.size) < IDN_SHARE
    cores = [core for c in COUNTRIES for core in c.cores]
    core_stems = [s for c in COUNTRIES for s in (c.romaji or [domain_slug(core) for core in c.cores])]
    idn_core_stems = [s for c in COUNTRIES
                      for s in (c.romaji or [domain_slug(core, keep_unicode=True) for core in c.cores])]
    names, domain_stems, ascii_stems = [], [], []
    for f, k, ind, suf, keep_unicode in zip(fmt, core, industry, suffix, idn):
        names.append(f.format(core=cores[k], industry=ind, suffix=suf))
        with_industry = "{industry}" in f
        ascii_stems.append(core_stems[k] + (f"-{domain_slug(ind)}" if with_industry else ""))
        domain_stems.append(idn_core_stems[k] + (f"-{domain_slug(ind, keep_unicode=True)}" if with_industry else "")
                            if keep_unicode else ascii_stems[-1])
    number = repeat_number(ascii_stems)
    return (np.array(names, dtype=object), np.array(domain_stems, dtype=object) + number,
            np.array(ascii_stems, dtype=object) + number)


# --- contacts ----------------------------------------------------------------------------------------------


def make_contacts(rng: np.random.Generator, customers: Customers, as_of_day: int) -> tuple[Table, dict[str, int]]:
    """About 1.5 contacts per customer, all valid except the AP contact of customers picked for a bad kind."""
    bad = pick_rows(rng, customers.count,
                    {kind: round(BAD_CONTACT_RATE * customers.count) for kind in BAD_CONTACT_KINDS})
    bad["shared_email"] = bad["shared_email"][: bad["shared_email"].size // 2 * 2]  # in pairs
    per_customer = 1 + rng.choice(3, customers.count, p=(0.6, 0.3, 0.1))
    per_customer[bad["no_contact"]] = 0
    per_customer[np.concatenate((bad["sales_only"], bad["noreply_only"]))] = 1
    owner = np.repeat(np.arange(customers.count), per_customer)
    ap_contact = np.cumsum(per_customer) - per_customer  # row of each customer's first contact, its AP contact
    count = owner.size
    first_of_customer = np.arange(count) == ap_contact[owner]
    role = np.where(first_of_customer, "AP",
                    rng.choice(("Billing", "Sales", "Owner", "AP"), count, p=(0.35, 0.35, 0.2, 0.1))).astype(object)
    role[ap_contact[bad["sales_only"]]] = "Sales"
    noreply = ap_contact[bad["noreply_only"]]
    role[noreply] = "No-reply"

    country = customers.country[owner]
    first = draw_from(rng, [c.first_names for c in COUNTRIES], country)
    last = draw_from(rng, [c.last_names for c in COUNTRIES], country)
    person = np.array([_personal_mailbox(f, l, style)
                       for f, l, style in zip(first, last, rng.choice(3, count, p=(0.7, 0.2, 0.1)))], dtype=object)
    mailbox = draw_from(rng, [c.ap_mailboxes for c in COUNTRIES], country)
    local = np.where((role == "AP") & (rng.random(count) < 0.6), mailbox,
                     np.where((role == "Billing") & (rng.random(count) < 0.5), "billing", person))
    local[noreply] = rng.choice(("no-reply", "noreply"), noreply.size)
    first[noreply] = last[noreply] = None
    domain = customers.domain[owner].astype(object)
    gmail = first_of_customer & (role == "AP") & (rng.random(count) < GMAIL_SHARE)
    local[gmail], domain[gmail] = customers.gmail_local[owner[gmail]], "gmail.com"
    local += repeat_number((local + "@" + domain).tolist())  # the same mailbox drawn twice for one customer
    email = local + "@" + domain
    phone = _phones(rng, customers, owner, role)
    phone[noreply] = None
    verified = as_of_day - rng.integers(2, 171, count)  # within the default 180-day policy
    bounced = np.full(count, -1)

    at = {kind: ap_contact[rows] for kind, rows in bad.items()}
    pairs = at["shared_email"].reshape(2, -1)
    email[pairs[1]] = email[pairs[0]]
    typo = at["email_typo"]
    email[typo] = [_misspell(email[i], customers.gmail_local[owner[i]], n % 4) for n, i in enumerate(typo)]
    email[at["missing_email"]] = np.resize(np.array([None, ""], dtype=object), at["missing_email"].size)
    phone[at["missing_phone"]] = np.resize(np.array([None, ""], dtype=object), at["missing_phone"].size)
    stale = at["stale_verification"]
    verified[stale] = as_of_day - rng.integers(400, 1500, stale.size)
    hit = at["bounced"]
    bounced[hit] = verified[hit] + 1 + (rng.random(hit.size) * (as_of_day - 1 - verified[hit])).astype(np.int64)

    last_change = np.maximum(verified, bounced)
    table = {
        "contact_id": np.arange(1, count + 1),
        "cust_no": customers.table["cust_no"][owner],
        "role": role,
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "tz": np.where(rng.random(count) < 0.25, np.array([c.tz for c in _CITIES])[customers.city[owner]], None),
        "verified_on": iso_dates(verified),
        "bounced_on": np.where(bounced >= 0, iso_dates(bounced), None),
        "opt_out_email": flag_rows(count, np.flatnonzero(rng.random(count) < 0.01)),
        "opt_out_sms": flag_rows(count, np.flatnonzero(rng.random(count) < 0.04)),
        "opt_out_voice": flag_rows(count, np.flatnonzero(rng.random(count) < 0.03)),
        "updated_at": random_timestamps(
            rng, last_change + (rng.random(count) * (as_of_day - last_change)).astype(np.int64)),
    }
    return table, {kind: rows.size for kind, rows in bad.items()}


def _personal_mailbox(first: str, last: str, style: int) -> str:
    first, last = mailbox_local_part(first), mailbox_local_part(last)
    return (f"{first}.{last}", f"{first[0]}{last}", f"{first}.{last}+ar")[style]


def _misspell(email: str, gmail_local: str, variant: int) -> str:
    """The AP-email typos people really make: gmial.com, a lost '@', a doubled dot, a comma for a dot."""
    local, domain = email.split("@")
    return (f"{gmail_local}@gmial.com", f"{local}.{domain}", f"{local}@{domain.replace('.', '..', 1)}",
            f"{local}@{domain.replace('.', ',', 1)}")[variant]


def _phones(rng: np.random.Generator, customers: Customers, owner: np.ndarray, role: np.ndarray) -> np.ndarray:
    """Numbers valid for the customer's country, typed in one of its usual international or national styles."""
    country = customers.country[owner]
    mobile = np.isin(role, ("Sales", "Owner")) & (rng.random(owner.size) < 0.6)
    mobiles = [c.mobiles or [city.phone for city in c.cities] for c in COUNTRIES]
    number = np.where(mobile, draw_from(rng, mobiles, country),
                      np.array([c.phone for c in _CITIES])[customers.city[owner]])
    styles = np.where(mobile, 2, np.array([len(c.phone_styles) for c in COUNTRIES])[country])
    style = (rng.random(owner.size) * styles).astype(np.int64)
    templates = np.array([_styled(n, COUNTRIES[c].phone_styles[s]) for n, c, s in zip(number, country, style)])
    phone = _fill_digits(rng, templates).astype(object)
    extension = np.flatnonzero(~mobile & np.isin(role, ("AP", "Billing")) & (rng.random(owner.size) < 0.12))
    phone[extension] = [f"{p}{sep}{n}" for p, sep, n in zip(phone[extension], rng.choice(
        (" x ", " ext. ", " ext "), extension.size), rng.integers(10, 9999, extension.size))]
    return phone


def _styled(number: str, style: tuple[str, str]) -> str:
    first, *rest = number.split(" ")
    fmt, separator = style
    return fmt.format(first=first, rest=separator.join(rest))


def _fill_digits(rng: np.random.Generator, templates: np.ndarray) -> np.ndarray:
    """Replace '#' by any digit and 'N' by 2-9 but 5 (no fictional 555 exchanges), one template at a time."""
    out = np.empty(templates.size, dtype=templates.dtype)
    kinds, which = np.unique(templates, return_inverse=True)
    for k, template in enumerate(kinds):
        rows = np.flatnonzero(which == k)
        chars = np.array(list(template))
        grid = np.tile(chars, (rows.size, 1))
        for placeholder, digits in (("#", "0123456789"), ("N", "2346789")):
            slots = chars == placeholder
            grid[:, slots] = np.array(list(digits))[rng.integers(0, len(digits), (rows.size, slots.sum()))]
        out[rows] = grid.view(f"<U{chars.size}").ravel()
    return out


# --- ledger ------------------------------------------------------------------------------------------------

