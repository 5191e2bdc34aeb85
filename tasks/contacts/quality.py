"""The AP-contact gate's rules, as plain functions: who is on the roster, what each failure means, which
contacts automated sends may use per channel, and when the whole list is too broken to send from.

Great Expectations decides *which* roster rows fail *which* check (tasks/contacts/expectations.py); these
functions turn that into worklist rows, per-channel verdicts and the go/no-go for dunning. Roster rows are
addressed by position (``row``), so a night with 150,000 contacts stays in vectorised array operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from blocks.contact_policy import CHANNELS, ContactPolicy
from reports.formats import money
from tasks import warehouse as wh
from tasks.contacts.normalization import addressees

ADDRESSEE_TEXT = {"sales": "a sales contact", "no_reply": "a no-reply mailbox"}

# check -> (what is wrong, suggested fix) for the worklist; email_valid and phone_valid say it per contact.
CHECK_TEXT = {
    "ap_contact_exists": ("no contact on file for a customer with an open balance",
                          "add the customer's accounts-payable contact in the ERP"),
    "email_valid": ("email address unusable", "correct the address in the ERP"),
    "phone_valid": ("phone number unusable", "correct the number in the ERP, in international form"),
    "verified_recently": ("contact not verified in the last {days} days (or never)",
                          "confirm the contact with the customer and record the verification date"),
    "no_bounce_since_verification": ("email hard-bounced since the last verification",
                                     "ask the customer for a working AP mailbox, then re-verify"),
    "phone_reaches": ("number does not reach the contact since the last verification",
                      "ask the customer for the AP desk's number, correct it in the ERP or re-verify it"),
    "email_not_shared": ("the same email is on file for unrelated customers",
                         "find out whose mailbox it is and correct the other customer's contact"),
    "addressee_is_ap": ("contact is {addressee}, not the accounts-payable desk",
                        "add the customer's AP or billing contact; reminders never go to sales or no-reply"),
    "opt_out_consistent_email": ("email opted out on one record and not on another",
                                 "apply the opt-out to every record with this address"),
    "opt_out_consistent_sms": ("phone opted out of SMS on one record and not on another",
                               "apply the SMS opt-out to every record with this number"),
    "opt_out_consistent_voice": ("phone opted out of calls on one record and not on another",
                                 "apply the call opt-out to every record with this number"),
}


def mask_email(email: str | None) -> str:
    """j***@example.com: enough for a collector who knows the customer, not a harvestable address."""
    if not isinstance(email, str) or not email:
        return ""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


def mask_phone(phone: str | None) -> str:
    """+44*******0000."""
    if not isinstance(phone, str) or not phone:
        return ""
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}" if len(phone) > 7 else "***"


def mask(address: str) -> str:
    """A recipient as logs and artifacts may show it."""
    return mask_email(address) if "@" in address else mask_phone(address) if address.startswith("+") else address


_ADDRESSES = re.compile(r"[^\s<>()\[\]:;,\"']+@[^\s<>()\[\]:;,\"']+|\+[1-9]\d{6,14}")


def mask_text(text: str) -> str:
    """Provider replies often quote the address ("550 <jo@acme.example>: no such user"); mask any in it."""
    return _ADDRESSES.sub(lambda found: mask(found.group()), text)


def open_balances(invoices: pd.DataFrame) -> pd.DataFrame:
    """Open balance per customer and currency (never summed across currencies) and its oldest due date."""
    return invoices.groupby(["customer_id", "currency"], as_index=False).agg(
        open_cents=("open_cents", "sum"), oldest_due=("due_date", "min"))


def build_roster(contacts: pd.DataFrame, customers: pd.DataFrame, owing: pd.Series,
                 policy: ContactPolicy) -> pd.DataFrame:
    """One row per contact a reminder could go to, plus one per customer with an open balance and no contact.

    A customer's roster contacts are its AP/billing contacts; a customer with none of those is represented
    by all its contacts, which then fail ``addressee_is_ap``. Only customers with an open balance are on it,
    unless the policy says to check all customers. ``contacts`` holds the warehouse contacts with
    their profiles, ``customers`` every customer (customer_id, customer_name, collector), ``owing``
    the ids of customers with an open balance.
    """
    contacts = _with_email_sharing(contacts)  # judged on every customer's contacts, whatever the scope
    if not policy.check_all_customers:
        contacts = contacts[contacts["customer_id"].isin(owing)]
    # Plain values, None for every blank: a column that is NULL throughout has no type to combine with.
    contacts, customers = wh.plain(contacts), wh.plain(customers)
    kind = addressees(contacts["role"], contacts["email"], tuple(policy.ap_roles))
    is_ap = kind.eq("accounts_payable")
    has_ap = is_ap.groupby(contacts["customer_id"]).transform("any")
    roster = contacts[is_ap | ~has_ap].assign(addressee=kind[is_ap | ~has_ap])
    details = customers.set_index("customer_id")
    for column in ("customer_name", "collector"):
        roster[column] = roster["customer_id"].map(details[column])
    ids = customers["customer_id"]
    contactless = customers[~ids.isin(contacts["customer_id"]) & ids.isin(owing)]
    if len(contactless):
        placeholders = contactless[["customer_id", "customer_name", "collector"]].assign(addressee="none")
        roster = pd.concat([roster, placeholders])
    roster = roster.reset_index(drop=True)
    roster["contact_id"] = roster["contact_id"].astype(object).where(roster["contact_id"].notna(), None)
    roster.insert(0, "row", np.arange(len(roster)))
    roster["open_balance"] = roster["customer_id"].isin(owing).to_numpy(bool)
    # The cross-record checks compare addresses through a fingerprint, so Data Docs never show an address.
    for column in ("email_key", "email_customers"):
        roster[column] = roster[column].astype("Int64")
    roster["phone_key"] = _fingerprint(roster["phone_e164"])
    for column in ("verified_on", "bounced_on"):
        roster[column] = pd.to_datetime(roster[column], format="ISO8601")
    roster["phone_failed_on"] = pd.to_datetime(roster["phone_failed_on"], format="ISO8601").dt.normalize()
    for column in ("opt_out_email", "opt_out_sms", "opt_out_voice"):  # SQLite says 0/1, PostgreSQL true/false
        roster[column] = roster[column].astype("boolean")
    return roster


def _with_email_sharing(contacts: pd.DataFrame) -> pd.DataFrame:
    """Each contact's email fingerprint (email_key) and how many customers have that address on file across the
    whole contact book (email_customers): a mailbox also on file for a customer who owes nothing tonight still
    belongs to someone else. Customers are unrelated unless the ledger says otherwise (a parent account would
    count as one)."""
    keys = _fingerprint(contacts["email"].astype(object).str.casefold())
    pairs = pd.DataFrame({"key": keys.to_numpy(), "customer": pd.factorize(contacts["customer_id"])[0]})
    customers = pairs.dropna().drop_duplicates()["key"].value_counts()
    return contacts.assign(email_key=keys, email_customers=keys.map(customers))


def _fingerprint(values: pd.Series) -> pd.Series:
    """A 64-bit hash of each value (missing stays missing): equal addresses stay equal, nobody can read them,
    and integers are several times cheaper for GX to compare than text."""
    present = values.notna().to_numpy()
    hashed = pd.util.hash_pandas_object(values[present].astype(str), index=False).to_numpy().view(np.int64)
    out = pd.array(np.zeros(len(values), dtype=np.int64), dtype="Int64")
    out[present] = hashed
    out[~present] = pd.NA
    return pd.Series(out, index=values.index)


def customer_batch(roster: pd.DataFrame) -> pd.DataFrame:
    """Customers with an open balance and how many roster contacts each has (what ap_customers validates).

    ``row`` is the roster row of a customer without contacts (-1 for the others, which cannot fail).
    """
    owing = roster[roster["open_balance"]]
    counts = owing.groupby("customer_id", sort=False).agg(contacts_on_file=("contact_id", "count"), row=("row", "max"))
    counts.loc[counts["contacts_on_file"] > 0, "row"] = -1
    return counts.reset_index()[["row", "customer_id", "contacts_on_file"]]


def failures(roster: pd.DataFrame, failed_rows: dict[str, np.ndarray], policy: ContactPolicy) -> pd.DataFrame:
    """Failed checks as rows (row, customer_id, contact_id, check_name, problem, fix), by roster row.

    Email and phone problems come from the contact's profile, which says exactly what is wrong.
    """
    parts = []
    for check, rows in failed_rows.items():
        hit = roster.iloc[np.asarray(rows, dtype=np.int64)]
        what, fix = CHECK_TEXT[check]
        if check in ("email_valid", "phone_valid"):
            channel = check.split("_")[0]
            problem, fixes = hit[f"{channel}_problem"].fillna(what), hit[f"{channel}_fix"].fillna(fix)
        elif check == "phone_reaches":  # which failure, and when: a wrong number needs another fix than the carrier
            problem = [f"{what}: {failure} on {day:%Y-%m-%d}"
                       for failure, day in zip(hit["phone_failure"], hit["phone_failed_on"], strict=True)]
            fixes = fix
        elif check == "addressee_is_ap":
            problem = [what.format(addressee=_addressee_text(a, r))
                       for a, r in zip(hit["addressee"], hit["role"], strict=True)]
            fixes = fix
        else:
            problem, fixes = what.format(days=policy.verification_max_age_days), fix
        parts.append(pd.DataFrame({"row": hit["row"].to_numpy(), "customer_id": hit["customer_id"].to_numpy(),
                                   "contact_id": hit["contact_id"].to_numpy(), "check_name": check,
                                   "problem": problem if isinstance(problem, str) else list(problem),
                                   "fix": fixes if isinstance(fixes, str) else list(fixes)}))
    columns = ["row", "customer_id", "contact_id", "check_name", "problem", "fix"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)[columns]


def _addressee_text(kind: str, role: str | None) -> str:
    if kind in ADDRESSEE_TEXT:
        return ADDRESSEE_TEXT[kind]
    return f"the {role.strip()!r} contact" if isinstance(role, str) and role.strip() else "a contact without a role"


@dataclass
class Verdicts:
    """Per roster row and channel: may automated sends use this contact, and can its customer be reached?"""

    usable: dict[str, np.ndarray]  # channel -> bool per row (False for channels dunning does not use)
    customer_reachable: dict[str, np.ndarray]  # channel -> bool per row: some contact of its customer is usable

    def table(self, roster: pd.DataFrame) -> pd.DataFrame:
        """The contact_gate rows: one per roster contact."""
        contacts = roster["contact_id"].notna().to_numpy()
        table = pd.DataFrame({"contact_id": roster["contact_id"].to_numpy()[contacts],
                              "customer_id": roster["customer_id"].to_numpy()[contacts]})
        for channel in CHANNELS:
            table[f"{channel}_ok"] = self.usable[channel][contacts]
        return table


def channel_verdicts(roster: pd.DataFrame, failed: pd.DataFrame, policy: ContactPolicy) -> Verdicts:
    has_contact = roster["contact_id"].notna().to_numpy()
    codes, _ = pd.factorize(roster["customer_id"])
    usable, reachable = {}, {}
    for channel in CHANNELS:
        blocked = np.zeros(len(roster), dtype=bool)
        blocked[failed.loc[failed["check_name"].isin(policy.gates.get(channel, ())), "row"].to_numpy(np.int64)] = True
        usable[channel] = has_contact & ~blocked & (channel in policy.gates)
        reachable[channel] = np.bincount(codes, weights=usable[channel], minlength=len(codes))[codes] > 0
    return Verdicts(usable, reachable)


@dataclass
class GateDecision:
    roster_rows: int  # roster rows of customers with an open balance
    failing_rows: int  # of those, rows failing a check that gates a channel
    max_failing_share: float
    manual_customers: dict[str, int] = field(default_factory=dict)  # channel -> customers with no usable contact
    top_reasons: dict[str, int] = field(default_factory=dict)  # gating check -> failing rows

    @property
    def failing_share(self) -> float:
        return self.failing_rows / self.roster_rows if self.roster_rows else 0.0

    @property
    def closed(self) -> bool:
        return self.failing_share > self.max_failing_share


def gate_decision(roster: pd.DataFrame, failed: pd.DataFrame, verdicts: Verdicts,
                  policy: ContactPolicy) -> GateDecision:
    owing = roster["open_balance"].to_numpy()
    gating = failed[failed["check_name"].isin(policy.gating_checks())]
    gating = gating[owing[gating["row"].to_numpy(np.int64)]]
    customers = roster["customer_id"].to_numpy()
    manual = {channel: len(pd.unique(customers[owing & ~verdicts.customer_reachable[channel]]))
              for channel in policy.channels}
    reasons = gating["check_name"].value_counts()
    return GateDecision(int(owing.sum()), gating["row"].nunique(), policy.max_failing_share, manual,
                        {str(k): int(v) for k, v in reasons.items()})


# Worklist columns, as collectors read them (CSV headers and artifact columns), in the order they work.
WORKLIST_COLUMNS = {
    "collector": "Collector", "customer": "Customer", "contact": "Contact", "problems": "What is wrong",
    "fixes": "Suggested fix", "blocked_channels": "Automated sends blocked on", "manual": "On the manual list for",
    "open_balance": "Open balance", "days_past_due": "Days past due", "address": "Address (masked)",
    "customer_id": "Customer id",
}


def worklist(roster: pd.DataFrame, failed: pd.DataFrame, verdicts: Verdicts, balances: pd.DataFrame,
             policy: ContactPolicy, as_of: date, locale: str = "en_US") -> pd.DataFrame:
    """The cleanup worklist: one row per roster row with a failed check, for its collector.

    Blocked channels say where automated sends will skip this contact; ``manual`` marks customers with no
    usable contact on a channel dunning uses, whom the collector must chase by hand. Open balances are shown
    per currency, never summed across currencies. Most overdue first.
    """
    columns = list(WORKLIST_COLUMNS)
    if failed.empty:
        return pd.DataFrame(columns=columns)
    failing = failed["row"].to_numpy(np.int64)
    positions, problems = _join_runs(failing, failed["problem"].to_numpy())
    _, fixes = _join_runs(failing, failed["fix"].to_numpy(), unique=True)
    rows = roster.iloc[positions]
    channels = list(policy.channels)
    blocked = np.column_stack([~verdicts.usable[c][positions] for c in channels])
    manual = np.column_stack([rows["open_balance"].to_numpy() & ~verdicts.customer_reachable[c][positions]
                              for c in channels])
    out = pd.DataFrame({
        "collector": rows["collector"].fillna("(unassigned)").to_numpy(),
        "customer_id": rows["customer_id"].to_numpy(),
        "customer": rows["customer_name"].to_numpy(),
        "contact": rows["contact_name"].fillna("").to_numpy(),
        "address": [mask_email(e) or mask_phone(p) for e, p in zip(rows["email"], rows["phone_e164"], strict=True)],
        "blocked_channels": [_channels(channels, flags) for flags in blocked],
        "manual": [_channels(channels, flags) for flags in manual],
        "problems": problems,
        "fixes": fixes,
    })
    mine = balances[balances["customer_id"].isin(out["customer_id"])].sort_values(["customer_id", "currency"])
    amounts = np.array([money(cents, currency, locale)
                        for currency, cents in zip(mine["currency"], mine["open_cents"], strict=True)], dtype=object)
    owed_by, owed = _join_runs(mine["customer_id"].to_numpy(), amounts)
    out["open_balance"] = out["customer_id"].map(pd.Series(owed, index=owed_by)).fillna("")
    oldest_due = mine.groupby("customer_id")["oldest_due"].min()
    oldest = pd.to_datetime(out["customer_id"].map(oldest_due), format="ISO8601")
    out["days_past_due"] = (pd.Timestamp(as_of) - oldest).dt.days.clip(lower=0).astype("Int64")
    out = out.sort_values(["collector", "days_past_due", "customer_id"], ascending=[True, False, True],
                          na_position="last", kind="stable")
    return out[columns].reset_index(drop=True)


def _join_runs(keys: np.ndarray, texts: np.ndarray, unique: bool = False) -> tuple[np.ndarray, list[str]]:
    """Texts joined with '; ' per run of equal keys (keys sorted). Most runs hold one text, so this walks
    runs instead of grouping, which would call Python per group."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], len(keys)]
    joined = [texts[a] if b - a == 1 else "; ".join(dict.fromkeys(texts[a:b]) if unique else texts[a:b])
              for a, b in zip(starts, ends, strict=True)]
    return keys[starts], joined


def _channels(channels: list[str], flags) -> str:
    return ", ".join(c for c, flag in zip(channels, flags, strict=True) if flag)
