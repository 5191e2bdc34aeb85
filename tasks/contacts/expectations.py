"""The AP-contact expectation suites, kept in code and versioned with arpilot, and the way they are run.

``ap_contacts`` validates the *contact roster*: one row per contact arpilot would write to (a customer's AP
or billing contacts, or all its contacts when it has none of those). ``ap_customers`` validates the
customers with an open balance: each must have a contact on file. Each expectation carries its check name
(see blocks/contact_policy.py) in ``meta["check"]``; failures come back as row ids.

Importing this module imports Great Expectations (several seconds), so callers import it where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar

import great_expectations as gx
import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from blocks.contact_policy import ContactPolicy
from tasks.contacts.data_docs import ship_offline_assets

CONTACT_SUITE, CUSTOMER_SUITE = "ap_contacts", "ap_customers"
DOCS_SITE = "contact_quality"
ROW = "row"  # the roster row each validated row stands for


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
    judges_missing: ClassVar[bool] = True  # rows without a date are evaluated (and fail), not skipped
    map_metric: ClassVar[str] = "arpilot.contact_verified_within_days"
    success_keys: ClassVar[tuple[str, ...]] = ("max_age_days", "as_of", "mostly")


# What a column-pair metric is computed over: ignore_row_if decides which rows with missing values count.
PAIR_DOMAIN_KEYS = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")


class NoHardBounceSinceVerification(ColumnPairMapMetricProvider):
    condition_metric_name = "arpilot.no_hard_bounce_since_verification"
    condition_domain_keys = PAIR_DOMAIN_KEYS

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
    condition_domain_keys = PAIR_DOMAIN_KEYS

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        pairs = pd.DataFrame({"a": column_A.to_numpy(), "b": column_B.to_numpy()}, index=column_A.index)
        return pairs.groupby("a")["b"].transform("nunique").le(1)


class ExpectOneValueOfBPerValueOfA(ColumnPairMapExpectation):
    """Expect every row sharing a value of column_A to agree on column_B (rows missing A are skipped).

    Cross-row, which no built-in map expectation is: one address opted out on one record and not on another.
    """

    ignore_row_if: str = "either_value_is_missing"
    map_metric: ClassVar[str] = "arpilot.one_value_of_b_per_value_of_a"
    success_keys: ClassVar[tuple[str, ...]] = ("ignore_row_if", "mostly")


# --- the suite -------------------------------------------------------------------------------------------

def build_suites(policy: ContactPolicy, as_of: date) -> tuple[gx.ExpectationSuite, gx.ExpectationSuite]:
    """(ap_contacts, ap_customers) for this policy and day. Phone checks are in ap_contacts only when
    dunning uses SMS or voice."""

    def check(name: str, expectation):
        expectation.meta = {"check": name}
        return expectation

    phone = policy.uses_phone
    contacts = [
        check("addressee_is_ap", gxe.ExpectColumnValuesToBeInSet(
            column="addressee", value_set=["accounts_payable"],
            description="The contact is the AP or billing desk, not sales or a no-reply mailbox")),
        check("verified_recently", ExpectContactVerifiedWithinDays(
            column="verified_on", max_age_days=policy.verification_max_age_days, as_of=as_of.isoformat(),
            description=f"Verified within the last {policy.verification_max_age_days} days")),
        check("email_valid", gxe.ExpectColumnValuesToBeNull(
            column="email_problem", description="The email address is well-formed and not a known misspelling")),
        check("no_bounce_since_verification", ExpectNoHardBounceSinceVerification(
            column_A="bounced_on", column_B="verified_on",
            description="No hard bounce since the last verification")),
        check("email_not_shared", gxe.ExpectColumnValuesToBeBetween(
            column="email_customers", max_value=1,
            description="The email address is not shared by unrelated customers")),
        *([check("phone_valid", gxe.ExpectColumnValuesToBeNull(
            column="phone_problem", description="The phone number is a valid number (E.164)")),
           check("phone_reaches", ExpectNoHardBounceSinceVerification(
               column_A="phone_failed_on", column_B="verified_on",
               description="No wrong number, undelivered text or failed call since the last verification"))]
          if phone else []),
        check("opt_out_consistent_email", ExpectOneValueOfBPerValueOfA(
            column_A="email_key", column_B="opt_out_email",
            description="Every record of an email address agrees on its email opt-out")),
        *([check("opt_out_consistent_sms", ExpectOneValueOfBPerValueOfA(
            column_A="phone_key", column_B="opt_out_sms",
            description="Every record of a phone number agrees on its SMS opt-out")),
           check("opt_out_consistent_voice", ExpectOneValueOfBPerValueOfA(
               column_A="phone_key", column_B="opt_out_voice",
               description="Every record of a phone number agrees on its call opt-out"))] if phone else []),
    ]
    customers = [check("ap_contact_exists", gxe.ExpectColumnValuesToBeBetween(
        column="contacts_on_file", min_value=1,
        description="Every customer with an open balance has a contact on file"))]
    return (gx.ExpectationSuite(name=CONTACT_SUITE, expectations=contacts),
            gx.ExpectationSuite(name=CUSTOMER_SUITE, expectations=customers))


def suite_checks(suite: gx.ExpectationSuite) -> list[str]:
    return [e.meta["check"] for e in suite.expectations]


# --- running it ------------------------------------------------------------------------------------------


class SuiteError(RuntimeError):
    """The suite could not be evaluated (a check raised, or an expectation went missing): not a data failure."""


@dataclass
class CheckOutcome:
    check: str
    evaluated: int
    failed_rows: np.ndarray  # roster rows


def run_suites(batches: list[tuple[gx.ExpectationSuite, pd.DataFrame]], docs_dir: Path) -> list[CheckOutcome]:
    """Validate each frame (with a ``row`` column) against its suite and write GX Data Docs to docs_dir (readable
    offline)."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(site_name=DOCS_SITE, site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
    })
    source = context.data_sources.add_pandas("warehouse")
    # Unexpected rows come back as index positions, mapped to roster rows here: asking GX for id columns
    # costs a row lookup per failure.
    result_format = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
    outcomes = []
    for suite, frame in batches:
        frame = frame.reset_index(drop=True)
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("tonight")
        # A validation definition stores its result, which the docs are built from.
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=context.suites.add(suite)))
        result = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
        outcomes += _outcomes(result, suite, frame[ROW].to_numpy())
    context.build_data_docs(site_names=[DOCS_SITE])
    ship_offline_assets(docs_dir)
    return outcomes


def _outcomes(result, suite: gx.ExpectationSuite, row_ids: np.ndarray) -> list[CheckOutcome]:
    judges_missing = {e.meta["check"]: getattr(e, "judges_missing", False) for e in suite.expectations}
    outcomes = []
    for r in result.results:
        check = r.expectation_config.meta["check"]
        if r.exception_info and any(info.get("raised_exception") for info in _exception_infos(r.exception_info)):
            raise SuiteError(f"contact check {check!r} could not be evaluated: {_exception_message(r.exception_info)}")
        rows = row_ids[np.asarray(r.result.get("unexpected_index_list") or [], dtype=np.int64)]
        # Rows missing the checked value were skipped, unless the expectation judges them.
        skipped = 0 if judges_missing[check] else int(r.result.get("missing_count", 0))
        outcomes.append(CheckOutcome(check, int(r.result.get("element_count", 0)) - skipped, rows))
    evaluated, expected = sorted(o.check for o in outcomes), sorted(suite_checks(suite))
    if evaluated != expected:
        raise SuiteError(f"suite {suite.name} evaluated {evaluated} but defines {expected}")
    return outcomes


def _exception_infos(info: dict) -> list[dict]:
    return list(info.values()) if "raised_exception" not in info else [info]


def _exception_message(info: dict) -> str:
    return "; ".join(str(i.get("exception_message")) for i in _exception_infos(info) if i.get("raised_exception"))
