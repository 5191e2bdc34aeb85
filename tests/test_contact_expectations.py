"""The expectation suites in code: every check survives a round trip through a GX store (GX drops
expectations it cannot load without a word), the custom expectations judge what they claim, and a check
that cannot run is an error."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd
import pytest

from blocks.contact_policy import CHECKS, ContactPolicy
from tasks.contacts.expectations import SuiteError, build_suites, run_suites, suite_checks

AS_OF = date(2026, 11, 23)


def test_the_suites_hold_one_expectation_per_check_and_survive_a_round_trip_through_gx_stores(tmp_path):
    suites = build_suites(ContactPolicy(), AS_OF)
    assert sorted(c for s in suites for c in suite_checks(s)) == sorted(CHECKS)

    context = gx.get_context(mode="file", project_root_dir=tmp_path)  # suites stored as JSON files
    for suite in suites:
        context.suites.add(suite)
    reloaded = gx.get_context(mode="file", project_root_dir=tmp_path)
    for suite in suites:
        loaded = reloaded.suites.get(suite.name)
        assert suite_checks(loaded) == suite_checks(suite)
        assert [e.expectation_type for e in loaded.expectations] == [e.expectation_type for e in suite.expectations]

    # Why the comparison matters: an expectation GX cannot load is dropped from the suite without an error.
    stored = next(tmp_path.rglob("ap_contacts.json"))
    stored.write_text(stored.read_text().replace('"expect_contact_verified_within_days"', '"expect_contact_unknown"'))
    dropped = gx.get_context(mode="file", project_root_dir=tmp_path).suites.get("ap_contacts")
    assert "verified_recently" not in suite_checks(dropped)
    assert len(dropped.expectations) == len(suites[0].expectations) - 1


def test_phone_checks_are_left_out_when_dunning_sends_email_only():
    policy = ContactPolicy(gates={"email": ["email_valid", "verified_recently"]})
    contacts, customers = build_suites(policy, AS_OF)
    checks = suite_checks(contacts) + suite_checks(customers)
    assert "phone_valid" not in checks and "opt_out_consistent_sms" not in checks
    assert "email_valid" in checks and "ap_contact_exists" in checks


@pytest.mark.parametrize(("gates", "message"), [
    ({"fax": ["email_valid"]}, "unknown channels ['fax']"),
    ({"email": ["email_valid", "email_is_pretty"]}, "gates['email'] names unknown checks ['email_is_pretty']"),
])
def test_the_policy_refuses_gates_it_cannot_enforce(gates, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ContactPolicy(gates=gates)


def contact_rows(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"row": np.arange(n), "email_problem": [None] * n, "phone_problem": [None] * n,
            "verified_on": pd.to_datetime(["2026-11-01"] * n), "bounced_on": pd.to_datetime([None] * n),
            "phone_failed_on": pd.to_datetime([None] * n),
            "email_key": [f"ap{i}@example.com" for i in range(n)], "email_customers": [1] * n,
            "addressee": ["accounts_payable"] * n, "opt_out_email": [False] * n, "opt_out_sms": [False] * n,
            "opt_out_voice": [False] * n, "phone_key": [f"+1212736{4000 + i}" for i in range(n)]}
    return pd.DataFrame(base | columns)


def failed(rows: pd.DataFrame) -> dict[str, list[int]]:
    contacts, _ = build_suites(ContactPolicy(), AS_OF)
    with tempfile.TemporaryDirectory() as docs:
        outcomes = run_suites([(contacts, rows)], Path(docs))
    return {o.check: o.failed_rows.tolist() for o in outcomes if len(o.failed_rows)}


def test_verification_age_counts_never_verified_as_a_failure_and_the_boundary_day_as_a_pass():
    rows = contact_rows(verified_on=pd.to_datetime(["2026-05-27", "2026-05-26", None]))  # 180, 181 days, never
    assert failed(rows) == {"verified_recently": [1, 2]}


def test_a_bounce_on_or_after_the_verification_or_without_one_fails_and_a_re_verification_clears_it():
    rows = contact_rows(verified_on=pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-01", None]),
                        bounced_on=pd.to_datetime(["2026-10-01", "2026-11-01", "2026-11-05", "2026-10-01"]))
    assert failed(rows) == {"no_bounce_since_verification": [1, 2, 3], "verified_recently": [3]}


def test_a_number_that_failed_on_or_after_the_verification_fails_until_it_is_verified_again():
    rows = contact_rows(verified_on=pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-10", "2026-11-01"]),
                        phone_failed_on=pd.to_datetime(["2026-11-01", "2026-11-05", "2026-11-05", None]))
    assert failed(rows) == {"phone_reaches": [0, 1]}


def test_an_address_shared_across_customers_or_with_disagreeing_opt_outs_fails_on_every_record():
    rows = contact_rows(email_key=["ap@shared.com", "ap@shared.com", "ap@own.com", "ap@own.com", None],
                        email_customers=pd.array([2, 2, 1, 1, None], dtype="Int64"),
                        opt_out_email=[False, False, True, False, False])
    assert failed(rows) == {"email_not_shared": [0, 1], "opt_out_consistent_email": [2, 3]}


def test_a_check_that_cannot_be_evaluated_is_an_error_not_a_data_failure():
    rows = contact_rows(verified_on=["not a date", "2026-11-01"])  # a column of the wrong type
    with pytest.raises(SuiteError, match="verified_recently"):
        failed(rows)
