"""The rep's email: one per rep and day they were asked, telling each account's story (open invoices, reminders
so far, last payment, open disputes, the final notice's date) with the three choices and how to answer.

A rep with no address in the report recipients block cannot be asked: the AR managers (escalation policy) get
the email instead, saying so, and decide or forward it; the run's artifact lists those reps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pandas as pd

from blocks.company import CompanyProfile
from reports.formats import money
from tasks import warehouse as wh
from tasks.sales.reviews import Story
from tasks.staff_mail import StaffNotice, render_staff

KIND = "sales-heads-up"


@dataclass
class RepLetter:
    """One rep's accounts asked about on one day: one email and one sales-review run."""

    sales_rep: str | None
    asked_on: date
    accounts: list[dict]
    to: tuple[str, ...]
    addressed: bool  # False: the rep has no address and the AR managers get it

    @property
    def key(self) -> str:
        return f"{KIND}|{self.sales_rep or '-'}|{self.asked_on.isoformat()}"


def asked_on(asked_at, company: CompanyProfile) -> date:
    """The company's calendar day of a UTC asked_at."""
    return pd.Timestamp(str(asked_at)).tz_localize("UTC").tz_convert(company.time_zone).date()


def letters(story: Story, sales_reps: dict[str, str], managers: list[str], company: CompanyProfile,
            today: date) -> list[RepLetter]:
    """The accounts awaiting an answer, grouped by rep and day asked, each with its story."""
    by_account = {name: _grouped(frame) for name, frame in (("invoices", story.invoices), ("reminders",
                  story.reminders), ("payments", story.payments), ("disputes", story.disputes))}
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for row in story.pending.to_dict("records"):
        account = (row["customer_id"], row["currency"])
        invoices = by_account["invoices"].get(account, [])
        payment = (by_account["payments"].get(account) or [None])[0]
        grouped[(row["sales_rep"], asked_on(row["asked_at"], company))].append({
            "customer_id": row["customer_id"], "customer_name": row["customer_name"], "currency": row["currency"],
            "step": int(row["step"]), "final_on": wh.to_date(row["final_on"]).isoformat(),
            "days_to_final": (wh.to_date(row["final_on"]) - today).days,
            "open": money(sum(int(i["open_cents"]) for i in invoices), row["currency"], company.locale),
            "invoices": [{"number": i["invoice_number"], "due_date": wh.to_date(i["due_date"]).isoformat(),
                          "days_past_due": (today - wh.to_date(i["due_date"])).days,
                          "open": money(int(i["open_cents"]), row["currency"], company.locale)} for i in invoices],
            "reminders": [{"day": wh.to_date(r["planned_on"]).isoformat(), "step": int(r["step"]),
                           "channel": r["channel"], "invoices": int(r["invoices"])}
                          for r in by_account["reminders"].get(account, [])],
            "last_payment": payment and {"day": wh.to_date(payment["received_on"]).isoformat(),
                                         "amount": money(int(payment["amount_cents"]), row["currency"],
                                                         company.locale)},
            "disputes": [{"invoice": d["invoice_number"], "since": wh.to_date(d["opened_at"]).isoformat(),
                          "amount": money(int(d["amount_cents"]), row["currency"], company.locale),
                          "reason": d["reason"] or "no reason given"} for d in by_account["disputes"].get(account, [])],
        })
    return [RepLetter(rep, day, accounts, (sales_reps[rep],) if rep in sales_reps else tuple(managers),
                      rep in sales_reps) for (rep, day), accounts in grouped.items()]


def _grouped(frame: pd.DataFrame) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in frame.to_dict("records"):
        grouped[(record["customer_id"], record["currency"])].append(record)
    return grouped


def heads_up_notice(letter: RepLetter, company: CompanyProfile, hold_days: int, answer_hours: int,
                    review_url: str | None) -> StaffNotice:
    """The email: where to answer (the sales-review run in the Prefect UI, or the arpilot CLI when no run was
    started), and that silence means proceed."""
    context = {"company": {"legal_name": company.legal_name}, "reference": letter.key, "rep": letter.sales_rep,
               "addressed": letter.addressed, "accounts": letter.accounts, "hold_days": hold_days,
               "answer_hours": answer_hours, "review_url": review_url}
    return StaffNotice(letter.key, KIND, letter.to, render_staff(KIND, context),
                       letter.accounts[0]["customer_id"] if len(letter.accounts) == 1 else None)
