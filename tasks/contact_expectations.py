"""The AP-contact expectation suite, kept in code and versioned with arpilot, and the way it is run.

The suite validates the *contact roster*: one row per contact arpilot would write to (a customer's AP or
billing contacts, or all its contacts when it has none of those), plus one row for every customer with an
open balance and no contact at all. Each expectation carries its check name (see blocks/contact_policy.py)
in ``meta["check"]``; failures come back per roster row.

Importing this module imports Great Expectations (several seconds), so callers import it where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)
from great_expectations.expectations.row_conditions import Column

from blocks.contact_policy import ContactPolicy

SUITE_NAME = "ap_contacts"
DOCS_SITE = "contact_quality"
ROW_ID = "row_id"


# --- custom expectations: where the built-ins fall short ------------------------------------------------


class ContactVerifiedWithinDays(ColumnMapMetricProvider):
    condition_metric_name = "arpilot.contact_verified_within_days"
    condition_value_keys = ("max_age_days", "as_of")
    filter_column_isnull = False  # never verified is a failure, not a row to skip

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, max_age_days, as_of, **kwargs):
        age_days = (pd.Timestamp(as_of) - pd.to_datetime(column)).dt.days
        return age_days.le(max_age_days).fillna(False).astype(bool)


class ExpectContactVerifiedWithinDays(ColumnMapExpectation):
    """Expect each contact to have been verified at most ``max_age_days`` before ``as_of``; never verified fails.

    The built-in between-check skips missing dates and needs a date range recomputed every night.
    """

    max_age_days: int
    as_of: str
    map_metric: ClassVar[str] = "arpilot.contact_verified_within_days"
    success_keys: ClassVar[tuple[str, ...]] = ("max_age_days", "as_of", "mostly")


class NoHardBounceSinceVerification(ColumnPairMapMetricProvider):
    condition_metric_name = "arpilot.no_hard_bounce_since_verification"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser",
                             "ignore_row_if")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        bounced, verified = pd.to_datetime(column_A), pd.to_datetime(column_B)
        return (bounced.isna() | (verified.notna() & (bounced < verified))).astype(bool)


class ExpectNoHardBounceSinceVerification(ColumnPairMapExpectation):
    """Expect no hard bounce (column_A) on or after the last verification (column_B).

    A bounce on the day of the verification counts as after it: we cannot tell the order, and a dead
    mailbox must not be written to.
    """

    ignore_row_if: str = "neither"
    map_metric: ClassVar[str] = "arpilot.no_hard_bounce_since_verification"
    success_keys: ClassVar[tuple[str, ...]] = ("ignore_row_if", "mostly")


class OneValueOfBPerValueOfA(ColumnPairMapMetricProvider):
    condition_metric_name = "arpilot.one_value_of_b_per_value_of_a"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser",
                             "ignore_row_if")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        pairs = pd.DataFrame({"a": column_A.to_numpy(), "b": column_B.to_numpy()}, index=column_A.index)
        return pairs.groupby("a")["b"].transform("nunique").le(1)


class ExpectOneValueOfBPerValueOfA(ColumnPairMapExpectation):
    """Expect every row sharing a value of column_A to agree on column_B (rows missing A are skipped).

    Cross-row, which no built-in map expectation is: one mailbox shared by two unrelated customers, or one
    address opted out on one record and not on another.
    """

    ignore_row_if: str = "either_value_is_missing"
    map_metric: ClassVar[str] = "arpilot.one_value_of_b_per_value_of_a"
    success_keys: ClassVar[tuple[str, ...]] = ("ignore_row_if", "mostly")


# --- the suite -------------------------------------------------------------------------------------------

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


def build_suite(policy: ContactPolicy, as_of: date) -> gx.ExpectationSuite:
    """The suite for this policy and day. Phone checks are in it only when dunning uses SMS or voice."""

    def check(name: str, expectation):
        expectation.meta = {"check": name}
        if name != "ap_contact_exists":  # a customer without contacts is judged by that check alone
            expectation.row_condition = Column("contact_id").is_not_null()
        return expectation

    expectations = [
        check("ap_contact_exists", gxe.ExpectColumnValuesToNotBeNull(
            column="contact_id", description="Every customer with an open balance has a contact on file")),
        check("email_valid", gxe.ExpectColumnValuesToBeNull(
            column="email_problem", description="The email address is well-formed and not a known misspelling")),
        check("verified_recently", ExpectContactVerifiedWithinDays(
            column="verified_on", max_age_days=policy.verification_max_age_days, as_of=as_of.isoformat(),
            description=f"Verified within the last {policy.verification_max_age_days} days")),
        check("no_bounce_since_verification", ExpectNoHardBounceSinceVerification(
            column_A="bounced_on", column_B="verified_on",
            description="No hard bounce since the last verification")),
        check("email_not_shared", ExpectOneValueOfBPerValueOfA(
            column_A="email_key", column_B="customer_group",
            description="The email address is not shared by unrelated customers")),
        check("addressee_is_ap", gxe.ExpectColumnValuesToBeInSet(
            column="addressee", value_set=["accounts_payable"],
            description="The contact is the AP or billing desk, not sales or a no-reply mailbox")),
        check("opt_out_consistent_email", ExpectOneValueOfBPerValueOfA(
            column_A="email_key", column_B="opt_out_email",
            description="Every record of an email address agrees on its email opt-out")),
    ]
    if policy.uses_phone:
        expectations += [
            check("phone_valid", gxe.ExpectColumnValuesToBeNull(
                column="phone_problem", description="The phone number is a valid number (E.164)")),
            check("opt_out_consistent_sms", ExpectOneValueOfBPerValueOfA(
                column_A="phone_e164", column_B="opt_out_sms",
                description="Every record of a phone number agrees on its SMS opt-out")),
            check("opt_out_consistent_voice", ExpectOneValueOfBPerValueOfA(
                column_A="phone_e164", column_B="opt_out_voice",
                description="Every record of a phone number agrees on its call opt-out")),
        ]
    return gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)


def suite_checks(suite: gx.ExpectationSuite) -> list[str]:
    return [e.meta["check"] for e in suite.expectations]


def load_suite(document: dict) -> gx.ExpectationSuite:
    """A suite from its JSON form, refusing unknown expectation types (GX itself would drop them silently)."""
    expectations = [
        ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta")).to_domain_obj()
        for e in document["expectations"]
    ]
    return gx.ExpectationSuite(name=document["name"], expectations=expectations)


# --- running it ------------------------------------------------------------------------------------------


class SuiteError(RuntimeError):
    """The suite could not be evaluated (a check raised, or an expectation went missing): not a data failure."""


@dataclass
class CheckOutcome:
    check: str
    evaluated: int
    failed_rows: list[str] = field(default_factory=list)  # roster row ids


def run_suite(roster: pd.DataFrame, suite: gx.ExpectationSuite, docs_dir: Path | None = None) -> list[CheckOutcome]:
    """Validate the roster; with docs_dir, also write GX Data Docs there (index.html)."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas("warehouse").add_dataframe_asset("contact_roster")
             .add_batch_definition_whole_dataframe("tonight"))
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID],
                     "return_unexpected_index_query": False}
    if docs_dir is None:
        result = batch.get_batch(batch_parameters={"dataframe": roster}).validate(suite, result_format=result_format)
    else:
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        })
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="ap_contacts_tonight", data=batch, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name="contact_gate", validation_definitions=[definition], result_format=result_format,
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])]))
        result = next(iter(checkpoint.run(batch_parameters={"dataframe": roster}).run_results.values()))
    return _outcomes(result, suite)


def _outcomes(result, suite: gx.ExpectationSuite) -> list[CheckOutcome]:
    expected = suite_checks(suite)
    outcomes = []
    for r in result.results:
        check = r.expectation_config.meta["check"]
        if r.exception_info and any(info.get("raised_exception") for info in _exception_infos(r.exception_info)):
            raise SuiteError(f"contact check {check!r} could not be evaluated: {_exception_message(r.exception_info)}")
        rows = [item[ROW_ID] for item in r.result.get("unexpected_index_list") or []]
        # Rows missing the checked value are skipped, except by the verification check, which fails them.
        skipped = 0 if check == "verified_recently" else int(r.result.get("missing_count", 0))
        outcomes.append(CheckOutcome(check, int(r.result.get("element_count", 0)) - skipped, rows))
    evaluated = [o.check for o in outcomes]
    if sorted(evaluated) != sorted(expected):
        raise SuiteError(f"the contact suite evaluated {sorted(evaluated)} but defines {sorted(expected)}")
    return outcomes


def _exception_infos(info: dict) -> list[dict]:
    return list(info.values()) if "raised_exception" not in info else [info]


def _exception_message(info: dict) -> str:
    return "; ".join(str(i.get("exception_message")) for i in _exception_infos(info) if i.get("raised_exception"))
