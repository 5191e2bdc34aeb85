"""The nightly AR run: sync the ledger into the warehouse, then check the AP contacts and gate sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prefect import flow, get_run_logger
from prefect.blocks.core import Block
from prefect.runtime import flow_run

from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.ledger import SqlLedgerSource
from tasks.contact_checks import ContactCheck, check_contacts, enforce_contact_gate, normalize_changed_contacts
from tasks.contact_quality import GateDecision
from tasks.ledger_entities import ENTITIES
from tasks.ledger_sync import EntitySync, publish_sync_artifacts, sync_ledger_entity


@dataclass
class NightlyResult:
    sync: list[EntitySync]
    contacts: ContactCheck
    gate: GateDecision


DEFAULT_LEDGER = "arpilot-sql-ledger/arpilot"
DEFAULT_WAREHOUSE = "arpilot-ar-warehouse/arpilot"
DEFAULT_COMPANY = "arpilot-company-profile/arpilot"
DEFAULT_CONTACT_POLICY = "arpilot-contact-policy/arpilot"


def _run_name() -> str:
    """nightly-YYYY-MM-DD, by the company's calendar."""
    params = flow_run.parameters
    day = params.get("run_date") or Block.load(params.get("company", DEFAULT_COMPANY)).today()
    return f"nightly-{day}"


@flow(name="nightly", flow_run_name=_run_name)
def nightly(
    ledger: str = DEFAULT_LEDGER,
    warehouse: str = DEFAULT_WAREHOUSE,
    company: str = DEFAULT_COMPANY,
    contact_policy: str = DEFAULT_CONTACT_POLICY,
    run_date: date | None = None,
) -> NightlyResult:
    """Sync the AR ledger into the warehouse, then check the AP contacts; a closed gate fails the run here.

    ledger, warehouse, company and contact_policy name block documents as "block-type-slug/name", editable
    in the UI. run_date defaults to today in the company's time zone.
    """
    logger = get_run_logger()
    profile: CompanyProfile = Block.load(company)
    source = Block.load(ledger)
    store = Block.load(warehouse)
    policy: ContactPolicy = Block.load(contact_policy)
    as_of = run_date or profile.today()
    logger.info("Nightly run for %s on %s: ledger %s -> warehouse %s", profile.legal_name, as_of,
                source.describe(), store.describe())

    run_id = str(flow_run.id)
    retries = source.retries if isinstance(source, SqlLedgerSource) else 0
    delay = source.retry_delay_seconds if isinstance(source, SqlLedgerSource) else 0
    sync = sync_ledger_entity.with_options(retries=retries, retry_delay_seconds=[delay * 2**i for i in range(retries)])
    results = [
        sync(source, store, entity.name, run_id, profile.default_currency)
        for entity in ENTITIES
        if source.provides(entity.name)
    ]
    publish_sync_artifacts(results, source.describe(), run_id)

    normalize_changed_contacts(store, profile.time_zone)
    check = check_contacts(store, policy, contact_policy, as_of, run_id, profile.locale)
    gate = enforce_contact_gate(check)
    return NightlyResult(results, check, gate)
