"""What the credit review tells people, as they read it: an approved change of terms goes to the account's sales rep
(arpilot changes no terms by itself), and nobody without an address is written to."""

from __future__ import annotations

from dunning_cases import COMPANY

from tasks.credit.notices import terms_notices
from tasks.credit.scorecard import Review

LATE_PAYER = Review("C1", "USD", 80, "change terms", 1_000_000, 1_000_000, (), ("86.0 % of payments late (-20)",))
PEOPLE = {"C1": {"name": "Acme Corp", "collector": "Ann Lee", "sales_rep": "Sam Rep"},
          "C2": {"name": "Bolt LLC", "collector": "Ann Lee", "sales_rep": "Kim Rep"}}


def test_an_approved_change_of_terms_asks_the_rep_to_agree_them_with_the_customer():
    other = Review("C2", "USD", 85, "change terms", None, None, (), ())
    [notice] = terms_notices("run-1", [LATE_PAYER, other], PEOPLE, {"Sam Rep": "sam@northwind.example"}, COMPANY,
                             "Dana")  # Kim has no address: not written to
    assert (notice.key, notice.to) == ("credit-terms|run-1|C1", ("sam@northwind.example",))
    assert notice.message.subject == "Acme Corp (C1): new payment terms approved, to agree with the customer"
    assert "86.0 % of payments late (-20)" in notice.message.text
    assert "arpilot does not change terms by itself" in notice.message.text
