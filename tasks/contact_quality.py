"""The AP-contact gate's rules, as plain functions: who is on the roster, what each failure means, which
contacts automated sends may use per channel, and when the whole list is too broken to send from.

Great Expectations decides *which* roster rows fail *which* check (tasks/contact_expectations.py); these
functions turn that into worklist rows, per-channel verdicts and the go/no-go for dunning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd
from babel.numbers import format_currency

from blocks.contact_policy import CHANNELS, ContactPolicy
from tasks.contact_normalization import addressee

ADDRESSEE_TEXT = {"sales": "a sales contact", "no_reply": "a no-reply mailbox"}


def _addressee_text(kind: str, role: str | None) -> str:
    if kind in ADDRESSEE_TEXT:
        return ADDRESSEE_TEXT[kind]
    return f"the {role.strip()!r} contact" if isinstance(role, str) and role.strip() else "a contact without a role"


def mask_email(email: str | None) -> str:
    """j***@example.com: enough for a collector who knows the customer, not a harvestable address."""
    if not isinstance(email, str) or not email:
        return ""
    if "@" not in email:
        return "***"
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str:
    """+44*******0000."""
    if not isinstance(phone, str) or not phone:
        return ""
    text = phone
    return f"{text[:3]}{'*' * max(len(text) - 7, 0)}{text[-4:]}" if len(text) > 7 else "***"


def build_roster(contacts: pd.DataFrame, open_customers: pd.DataFrame, policy: ContactPolicy) -> pd.DataFrame:
    """One row per contact a reminder could go to, plus one per customer with an open balance and no contact.

    A customer's roster contacts are its AP/billing contacts; a customer with none of those is represented
    by all its contacts, which then fail ``addressee_is_ap``. ``contacts`` holds the warehouse contacts with
    their profiles; ``open_customers`` one row per customer with an open balance (customer_id, customer_name,
    collector).
    """
    ap_roles = tuple(policy.ap_roles)
    contacts = contacts.copy()
    contacts["addressee"] = [addressee(role, email if isinstance(email, str) else raw, ap_roles) for role, email, raw in
                             zip(contacts["role"], contacts["email"], contacts["raw_email"], strict=True)]
    is_ap = contacts["addressee"].eq("accounts_payable")
    has_ap = is_ap.groupby(contacts["customer_id"]).transform("any")
    roster = contacts[is_ap | ~has_ap].copy()
    roster["row_id"] = roster["contact_id"].astype(str)

    missing = open_customers[~open_customers["customer_id"].isin(contacts["customer_id"])]
    placeholders = pd.DataFrame({"row_id": "customer:" + missing["customer_id"].astype(str),
                                 "customer_id": missing["customer_id"], "customer_name": missing["customer_name"],
                                 "collector": missing["collector"], "addressee": "none"})
    roster = pd.concat([roster, placeholders]) if len(placeholders) else roster
    roster = roster.reset_index(drop=True)
    roster["contact_id"] = roster["contact_id"].astype(object).where(roster["contact_id"].notna(), None)
    roster["open_balance"] = roster["customer_id"].isin(open_customers["customer_id"])
    roster["customer_group"] = roster["customer_id"]  # customers are unrelated unless the ledger says otherwise
    roster["email_key"] = roster["email"].astype(object).str.casefold()
    for column in ("verified_on", "bounced_on"):
        roster[column] = pd.to_datetime(roster[column])
    for column in ("opt_out_email", "opt_out_sms", "opt_out_voice"):
        roster[column] = roster[column].astype(object).where(roster["contact_id"].notna(), None)
    return roster


def failures(roster: pd.DataFrame, failed_rows: dict[str, list[str]], policy: ContactPolicy) -> pd.DataFrame:
    """Failed checks as rows (row_id, customer_id, contact_id, check_name, problem, fix), in roster order."""
    from tasks.contact_expectations import CHECK_TEXT

    by_row = roster.set_index("row_id")
    parts = []
    for check, rows in failed_rows.items():
        if not rows:
            continue
        hit = by_row.loc[rows]
        what, fix = CHECK_TEXT[check]
        if check in ("email_valid", "phone_valid"):
            kind = check.split("_")[0]
            problem, fixes = hit[f"{kind}_problem"].fillna(what), hit[f"{kind}_fix"].fillna(fix)
        else:
            text = what.format(days=policy.verification_max_age_days, addressee="")
            problem = pd.Series(text, index=hit.index)
            if check == "addressee_is_ap":
                problem = [what.format(addressee=_addressee_text(a, r))
                           for a, r in zip(hit["addressee"], hit["role"], strict=True)]
            fixes = pd.Series(fix, index=hit.index)
        parts.append(pd.DataFrame({"row_id": hit.index, "customer_id": hit["customer_id"].to_numpy(),
                                   "contact_id": hit["contact_id"].to_numpy(), "check_name": check,
                                   "problem": list(problem), "fix": list(fixes)}))
    columns = ["row_id", "customer_id", "contact_id", "check_name", "problem", "fix"]
    if not parts:
        return pd.DataFrame(columns=columns)
    order = {row_id: i for i, row_id in enumerate(roster["row_id"])}
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("row_id", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)[columns]


def channel_verdicts(roster: pd.DataFrame, failed: pd.DataFrame, policy: ContactPolicy) -> pd.DataFrame:
    """Per roster contact: may automated sends use it on each channel? A channel dunning does not use: no."""
    contacts = roster[roster["contact_id"].notna()]
    verdicts = pd.DataFrame({"contact_id": contacts["contact_id"].to_numpy(),
                             "customer_id": contacts["customer_id"].to_numpy()})
    for channel in CHANNELS:
        gating = set(policy.gates.get(channel, ()))
        blocked = set(failed.loc[failed["check_name"].isin(gating), "row_id"])
        verdicts[f"{channel}_ok"] = (channel in policy.gates) & ~contacts["row_id"].isin(blocked).to_numpy()
    return verdicts


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


def gate_decision(roster: pd.DataFrame, failed: pd.DataFrame, verdicts: pd.DataFrame,
                  policy: ContactPolicy) -> GateDecision:
    in_scope = roster.loc[roster["open_balance"], "row_id"]
    gating = failed[failed["check_name"].isin(policy.gating_checks()) & failed["row_id"].isin(in_scope)]
    owing = set(roster.loc[roster["open_balance"], "customer_id"])
    manual = {}
    for channel in policy.channels:
        reachable = set(verdicts.loc[verdicts[f"{channel}_ok"], "customer_id"])
        manual[channel] = len(owing - reachable)
    reasons = gating["check_name"].value_counts()
    return GateDecision(len(in_scope), gating["row_id"].nunique(), policy.max_failing_share, manual,
                        {str(k): int(v) for k, v in reasons.items()})


def worklist(roster: pd.DataFrame, failed: pd.DataFrame, verdicts: pd.DataFrame, balances: pd.DataFrame,
             policy: ContactPolicy, as_of: date, locale: str = "en_US") -> pd.DataFrame:
    """The cleanup worklist: one row per roster row with a failed check, for its collector.

    Blocked channels say where automated sends will skip this contact; ``manual`` marks customers with no
    usable contact on a channel dunning uses, whom the collector must chase by hand. Most overdue first.
    """
    columns = ["collector", "customer_id", "customer", "contact", "address", "open_balance", "days_past_due",
               "blocked_channels", "manual", "problems", "fixes"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    by_row = failed.groupby("row_id", sort=False).agg(
        problems=("problem", "; ".join), fixes=("fix", lambda f: "; ".join(dict.fromkeys(f))))
    rows = roster.set_index("row_id").loc[by_row.index]
    blocked = verdicts.set_index("contact_id")
    ok_cols = [f"{c}_ok" for c in policy.channels]
    owing_reachable = {c: set(verdicts.loc[verdicts[f"{c}_ok"], "customer_id"]) for c in policy.channels}
    out = pd.DataFrame({
        "collector": rows["collector"].fillna("(unassigned)").to_numpy(),
        "customer_id": rows["customer_id"].to_numpy(),
        "customer": rows["customer_name"].to_numpy(),
        "contact": rows["contact_name"].fillna("").to_numpy() if "contact_name" in rows else "",
        "address": [mask_email(e if isinstance(e, str) else raw) or mask_phone(p if isinstance(p, str) else rp)
                    for e, raw, p, rp in
                    zip(rows["email"], rows["raw_email"], rows["phone_e164"], rows["raw_phone"], strict=True)],
        "problems": by_row["problems"].to_numpy(),
        "fixes": by_row["fixes"].to_numpy(),
    })
    out["blocked_channels"] = [
        ", ".join(c for c, col in zip(policy.channels, ok_cols, strict=True)
                  if contact is None or not blocked.at[contact, col])
        for contact in rows["contact_id"]
    ]
    out["manual"] = [", ".join(c for c in policy.channels if owes and customer not in owing_reachable[c])
                     for customer, owes in zip(rows["customer_id"], rows["open_balance"], strict=True)]
    due = balances.groupby("customer_id").agg(oldest_due=("oldest_due", "min"))
    text = balances.groupby("customer_id").apply(_balance_text, locale=locale, include_groups=False)
    out["open_balance"] = out["customer_id"].map(text).fillna("")
    oldest = pd.to_datetime(out["customer_id"].map(due["oldest_due"]))
    out["days_past_due"] = (pd.Timestamp(as_of) - oldest).dt.days.clip(lower=0).astype("Int64")
    out = out.sort_values(["collector", "days_past_due", "customer_id"], ascending=[True, False, True],
                          na_position="last", kind="stable")
    return out[columns].reset_index(drop=True)


def _balance_text(rows: pd.DataFrame, locale: str) -> str:
    """Open balance per currency, never summed across currencies: '€1,200.00; $35.10; ¥143,394'."""
    return "; ".join(format_currency(Decimal(int(cents)) / 100, currency, locale=locale)
                     for currency, cents in sorted(zip(rows["currency"], rows["open_cents"], strict=True)))
