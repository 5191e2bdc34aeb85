"""What the credit review tells people, each once (tasks/staff_mail.py): every sales rep the proposals for their
accounts before the decision, the rep a hold put on or lifted, and the collector and the rep a customer over the
limit in force, once per breach. A person without an address in the report recipients is not told; the callers
publish who that was."""

from __future__ import annotations

from dataclasses import dataclass

from blocks.company import CompanyProfile
from reports.formats import money
from tasks.credit.records import Change
from tasks.credit.scorecard import Review
from tasks.staff_mail import StaffNotice, render_staff


@dataclass(frozen=True)
class Breach:
    customer_id: str
    currency: str
    started_on: str
    limit_cents: int
    open_cents: int


def limit_text(cents: int | None, currency: str, company: CompanyProfile) -> str:
    """A credit limit as people read it; None is no limit."""
    return "no limit" if cents is None else money(int(cents), currency, company.locale)


def _context(company: CompanyProfile, key: str, **more) -> dict:
    return {"company": {"legal_name": company.legal_name}, "reference": key, **more}


def proposal_notices(review_id: str, reviews: list[Review], customers: dict[str, dict], sales_reps: dict[str, str],
                     company: CompanyProfile, answer_by: str, run_url: str | None,
                     comment_command: str) -> tuple[list[StaffNotice], list[str]]:
    """One email per sales rep with their accounts' proposals; and the reps who have no address."""
    by_rep: dict[str, list[dict]] = {}
    for r in reviews:
        rep = customers.get(r.customer_id, {}).get("sales_rep")
        if rep:
            by_rep.setdefault(rep, []).append({
                "customer_id": r.customer_id, "name": customers[r.customer_id]["name"], "score": r.score,
                "recommendation": r.recommendation, "limit": limit_text(r.limit_cents, r.currency, company),
                "proposed": limit_text(r.proposed_limit_cents, r.currency, company), "reasons": r.reasons})
    notices = []
    for rep, accounts in sorted(by_rep.items()):
        if rep not in sales_reps:
            continue
        key = f"credit-proposals|{review_id}|{rep}"
        context = _context(company, key, rep=rep, accounts=accounts, answer_by=answer_by, run_url=run_url,
                           comment_command=comment_command)
        notices.append(StaffNotice(key, "credit-proposals", (sales_reps[rep],), render_staff("credit-proposals",
                                                                                             context)))
    return notices, sorted(set(by_rep) - set(sales_reps))


def hold_notices(changes: list[Change], customers: dict[str, dict], sales_reps: dict[str, str],
                 company: CompanyProfile, approved_by: str) -> list[StaffNotice]:
    """The sales rep of each account a change put on credit hold or released from it."""
    notices = []
    for c in changes:
        rep = customers.get(c.customer_id, {}).get("sales_rep")
        if c.hold_before == c.hold_after or rep not in sales_reps:
            continue
        key = f"credit-hold|{c.change_id}|sales"
        context = _context(company, key, change=c, name=customers[c.customer_id]["name"], approved_by=approved_by,
                           limit=limit_text(c.limit_after_cents, c.currency, company))
        notices.append(StaffNotice(key, "credit-hold", (sales_reps[rep],), render_staff("credit-hold", context),
                                   c.customer_id))
    return notices


def terms_notices(review_id: str, terms: list[Review], customers: dict[str, dict], sales_reps: dict[str, str],
                  company: CompanyProfile, approved_by: str) -> list[StaffNotice]:
    """The sales rep of each account whose change of terms was approved: terms are agreed with the customer and set
    in the ERP by people, so nothing is exported for them."""
    notices = []
    for r in terms:
        rep = customers.get(r.customer_id, {}).get("sales_rep")
        if rep not in sales_reps:
            continue
        key = f"credit-terms|{review_id}|{r.customer_id}"
        context = _context(company, key, review=r, name=customers[r.customer_id]["name"], approved_by=approved_by)
        notices.append(StaffNotice(key, "credit-terms", (sales_reps[rep],), render_staff("credit-terms", context),
                                   r.customer_id))
    return notices


def breach_notices(breaches: list[Breach], customers: dict[str, dict], collectors: dict[str, str],
                   sales_reps: dict[str, str], company: CompanyProfile) -> list[StaffNotice]:
    """The collector and the sales rep of each customer newly over their limit, one email per breach."""
    notices = []
    for b in breaches:
        info = customers[b.customer_id]
        to = tuple(dict.fromkeys(a for a in (collectors.get(info.get("collector") or ""),
                                             sales_reps.get(info.get("sales_rep") or "")) if a))
        if not to:
            continue
        key = f"credit-breach|{b.customer_id}|{b.currency}|{b.started_on}"
        context = _context(company, key, breach=b, info=info, limit=limit_text(b.limit_cents, b.currency, company),
                           open=money(b.open_cents, b.currency, company.locale),
                           over=money(b.open_cents - b.limit_cents, b.currency, company.locale))
        notices.append(StaffNotice(key, "credit-breach", to, render_staff("credit-breach", context), b.customer_id))
    return notices
