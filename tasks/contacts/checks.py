"""The nightly contact stage as Prefect tasks: normalise changed contacts, check every contact a reminder could
go to, record the results, publish the summary and the collectors' worklists, and close the gate if needed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prefect import get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from blocks.contact_policy import CHANNELS, ContactPolicy
from blocks.ledger import project_path
from blocks.runbook import runbook
from blocks.warehouse import ArWarehouse
from tasks import warehouse as wh
from tasks.contacts.normalization import normalize_contacts
from tasks.contacts.quality import (
    WORKLIST_COLUMNS,
    GateDecision,
    build_roster,
    channel_verdicts,
    customer_batch,
    failures,
    gate_decision,
    open_balances,
    worklist,
)
from tasks.output_files import slug
from tasks.promises.rules import ANNOUNCE_DAYS
from tasks.scale_out import THREADS, choose_task_runner, describe_runner

CONTACTS_PER_TASK = 25_000  # a few seconds of normalising per task run: parts enough to spread, few task runs
NORMALIZE_THREADS = 1  # normalising is pure Python: more threads in one process would only take turns
WORKLIST_ARTIFACT_ROWS = 200  # per collector; the CSV holds the full list
SUITE_COLUMNS = ["row", "email_problem", "phone_problem", "verified_on", "bounced_on", "phone_failed_on",
                 "email_key", "email_customers", "addressee", "opt_out_email", "opt_out_sms", "opt_out_voice",
                 "phone_key"]


class ContactGateClosed(RuntimeError):
    """Too many contacts of customers with an open balance fail: dunning must not run on this list."""


@dataclass
class CheckSummary:
    check: str
    gates: list[str]
    evaluated: int
    failed: int
    previous_pass_rate: float | None

    @property
    def pass_rate(self) -> float:
        return 1 - self.failed / self.evaluated if self.evaluated else 1.0

    @property
    def change(self) -> str | None:
        """The pass rate's change since the last run, in percentage points; None on the first run."""
        if self.previous_pass_rate is None:
            return None
        points = round(100 * (self.pass_rate - self.previous_pass_rate), 1)
        return f"{points:+.1f} pp" if points else "no change"


@dataclass
class ContactCheck:
    as_of: date
    decision: GateDecision
    checks: list[CheckSummary]
    worklist_rows: int
    data_docs: Path
    worklists: Path
    policy_name: str
    worklist_by_collector: dict[str, int] = field(default_factory=dict)
    time_zone_sources: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (contacts, ambiguous)

    def gate_message(self) -> str:
        d = self.decision
        reasons = ", ".join(f"{check} {rows:,}" for check, rows in list(d.top_reasons.items())[:4])
        return (
            f"Contact gate closed: {d.failing_rows:,} of {d.roster_rows:,} AP contacts of customers with an open "
            f"balance ({d.failing_share:.1%}) fail a check that gates sending; "
            f"the limit is {d.max_failing_share:.0%} (max_failing_share in block {self.policy_name}). "
            f"Dunning did not run and nothing was sent. Most common failures: {reasons}. "
            f"Worklists per collector: artifacts 'contact-cleanup-*' of this run and {self.worklists}; "
            f"GX Data Docs: {self.data_docs / 'index.html'}. Fix the contacts in the ERP (or change the policy), "
            f"then run the nightly flow again. {runbook('contact-gate-closed')}"
        )



def normalize_changed_contacts(store: ArWarehouse, company_zone: str, task_runner: str = THREADS) -> int:
    """Normalise the contacts that are new or changed (or whose customer's address changed) since last time, in
    parts of CONTACTS_PER_TASK on the task runner ``task_runner`` names (see tasks/scale_out.py)."""
    runner = choose_task_runner(task_runner, NORMALIZE_THREADS)
    stale = read_changed_contacts(store, company_zone)
    parts = [stale.iloc[start:start + CONTACTS_PER_TASK] for start in range(0, len(stale), CONTACTS_PER_TASK)]
    with runner:
        futures = runner.map(normalize_contact_part, {"contacts": parts, "company_zone": unmapped(company_zone),
                                                      "number": list(range(1, len(parts) + 1))})
        if parts:
            get_run_logger().info("Normalising %s contacts in %d parts on %s", f"{len(stale):,}", len(parts),
                                  describe_runner(runner))
        profiles = pd.concat([f.result() for f in futures]) if parts else normalize_contacts(stale, company_zone)
    return save_contact_profiles(store, stale, profiles, company_zone)


@task(name="changed-contacts", cache_policy=NO_CACHE)
@wh.bulk_work()
def read_changed_contacts(store: ArWarehouse, company_zone: str) -> pd.DataFrame:
    """The contacts that are new or changed (or whose customer's address changed) since they were last normalised."""
    engine = store.engine()
    with engine.connect() as conn:
        stale = wh.query_frame(conn, wh.named_query("contacts", "contacts_to_normalize"),
                               {"company_time_zone": company_zone})
    engine.dispose()
    return wh.plain(stale)


@task(name="normalize-contact-part", task_run_name="normalize-contact-part-{number}", cache_policy=NO_CACHE)
def normalize_contact_part(contacts: pd.DataFrame, company_zone: str, number: int) -> pd.DataFrame:
    """One part of the changed contacts, normalised wherever the task runner puts it (pure: no database)."""
    return normalize_contacts(contacts, company_zone)


@task(name="save-contact-profiles", cache_policy=NO_CACHE)
@wh.bulk_work()
def save_contact_profiles(store: ArWarehouse, stale: pd.DataFrame, profiles: pd.DataFrame, company_zone: str) -> int:
    engine = store.engine()
    with engine.begin() as conn:
        rows = pd.concat([stale[["contact_id", "customer_id"]], profiles], axis=1).assign(
            contact_row_hash=stale["row_hash"], customer_country=stale["country"],
            customer_time_zone=stale["customer_time_zone"], company_time_zone=company_zone,
            normalized_at=wh.utcnow())
        wh.upsert(conn, "contact_profiles", "contact_id", rows)
    engine.dispose()
    ambiguous = int(profiles["time_zone_ambiguous"].sum()) if len(profiles) else 0
    get_run_logger().info("Normalised %s new or changed contacts (%s with an ambiguous time zone)",
                          f"{len(stale):,}", f"{ambiguous:,}")
    return len(stale)


@task(name="check-contacts", cache_policy=NO_CACHE)
@wh.bulk_work()
def check_contacts(store: ArWarehouse, policy: ContactPolicy, policy_name: str, as_of: date, run_id: str,
                   locale: str = "en_US") -> ContactCheck:
    """Run the expectation suites on tonight's contact roster; record and publish the results and verdicts."""
    from tasks.contacts.expectations import build_suites, run_suites

    engine = store.engine()
    with engine.connect() as conn:
        contacts, customers = (wh.query_frame(conn, wh.named_query("contacts", name))
                               for name in ("contacts", "customers"))
        balances = open_balances(wh.query_frame(conn, wh.named_query("contacts", "open_invoices")))
        zones = wh.query_frame(conn, wh.named_query("contacts", "time_zone_sources"))
        promised = wh.query_frame(conn, wh.named_query("contacts", "promise_customers"),
                                  {"since": as_of - timedelta(days=ANNOUNCE_DAYS)})
    written_to = pd.concat([balances["customer_id"], promised["customer_id"]]).drop_duplicates()
    roster = build_roster(contacts, customers, written_to, policy)

    out = project_path(policy.output_dir)
    docs = out / "data-docs"
    shutil.rmtree(docs, ignore_errors=True)  # tonight's results only; the history is in the warehouse
    contact_suite, customer_suite = build_suites(policy, as_of)
    contact_rows = roster.loc[roster["contact_id"].notna(), SUITE_COLUMNS]
    outcomes = run_suites([(customer_suite, customer_batch(roster)), (contact_suite, contact_rows)], docs)
    failed = failures(roster, {o.check: o.failed_rows for o in outcomes}, policy)
    verdicts = channel_verdicts(roster, failed, policy)
    decision = gate_decision(roster, failed, verdicts, policy)
    work = worklist(roster, failed, verdicts, balances, policy, as_of, locale)

    with engine.begin() as conn:
        previous = _previous_pass_rates(conn, run_id)
        checks = [CheckSummary(o.check, [c for c in CHANNELS if o.check in policy.gates.get(c, ())], o.evaluated,
                               len(o.failed_rows), previous.get(o.check)) for o in outcomes]
        _record(conn, run_id, as_of, checks, failed, verdicts.table(roster))
    engine.dispose()

    worklists = _write_worklists(work, out / "worklists" / as_of.isoformat())
    result = ContactCheck(as_of, decision, checks, len(work), docs, worklists, policy_name,
                          work["collector"].value_counts().to_dict(),
                          {s: (int(n), int(a)) for s, n, a in zip(zones["source"], zones["contacts"],
                                                                  zones["ambiguous"], strict=True)})
    _publish(result, work, len(roster))
    return result


@task(name="contact-gate")
def enforce_contact_gate(check: ContactCheck) -> GateDecision:
    """Fail the run before dunning when the contact list is too broken to send from."""
    d = check.decision
    if d.closed:
        raise ContactGateClosed(check.gate_message())
    get_run_logger().info("Contact gate open: %s of %s AP contacts of customers with an open balance fail (%.1f%%, "
                          "limit %.0f%%)", f"{d.failing_rows:,}", f"{d.roster_rows:,}", 100 * d.failing_share,
                          100 * d.max_failing_share)
    return d


def _previous_pass_rates(conn, run_id: str) -> dict[str, float]:
    last = conn.execute(sa.text("SELECT run_id FROM contact_check_runs WHERE run_id <> :r "
                                "ORDER BY checked_at DESC, run_id LIMIT 1"), {"r": run_id}).scalar()
    if last is None:
        return {}
    rows = conn.execute(sa.text("SELECT check_name, evaluated, failed FROM contact_check_runs WHERE run_id = :r"),
                        {"r": last})
    return {name: 1 - failed / evaluated if evaluated else 1.0 for name, evaluated, failed in rows}


def _record(conn, run_id: str, as_of: date, checks: list[CheckSummary], failed: pd.DataFrame,
            verdicts: pd.DataFrame) -> None:
    """History rows for this run, and the gate table brought up to date (only verdicts that changed)."""
    at = wh.utcnow()
    for table in ("contact_check_runs", "contact_check_failures"):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE run_id = :r"), {"r": run_id})  # a retried task
    wh.insert(conn, "contact_check_runs", pd.DataFrame(
        [{"run_id": run_id, "checked_on": as_of.isoformat(), "check_name": c.check, "gates": ",".join(c.gates),
          "evaluated": c.evaluated, "failed": c.failed, "checked_at": at} for c in checks]))
    history = failed.drop(columns="row").assign(run_id=run_id, checked_on=as_of.isoformat())
    history.insert(0, "seq", range(len(history)))
    wh.insert(conn, "contact_check_failures", history)

    ok = [f"{c}_ok" for c in CHANNELS]
    stored = wh.query_frame(conn, f"SELECT contact_id, {', '.join(ok)} FROM contact_gate").set_index("contact_id")
    now = verdicts.set_index("contact_id")
    gone = stored.index.difference(now.index)
    for start in range(0, len(gone), wh.IN_CHUNK):
        chunk = list(gone[start:start + wh.IN_CHUNK])
        conn.execute(sa.text("DELETE FROM contact_gate WHERE contact_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)), {"ids": chunk})
    before = stored.reindex(now.index)[ok].astype("boolean")
    changed = before.ne(now[ok].astype("boolean")).fillna(True).any(axis=1)
    rows = now[changed].reset_index().assign(run_id=run_id, decided_on=as_of.isoformat())
    wh.upsert(conn, "contact_gate", "contact_id", rows)


def _write_worklists(work: pd.DataFrame, folder: Path) -> Path:
    """One CSV per collector (addresses masked as in the artifacts; the ERP holds them in full)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for collector, rows in work.groupby("collector"):
        rows.rename(columns=WORKLIST_COLUMNS).to_csv(folder / f"{slug(collector)}.csv", index=False)
    return folder


def _publish(check: ContactCheck, work: pd.DataFrame, roster_rows: int) -> None:
    d = check.decision
    verdict = (f"**Gate closed**: {d.failing_share:.1%} of AP contacts fail, above the {d.max_failing_share:.0%} "
               "limit. Dunning will not run." if d.closed else
               f"**Gate open**: {d.failing_share:.1%} of AP contacts fail (limit {d.max_failing_share:.0%}). "
               "Failing contacts are skipped per channel.")
    owing = ("" if roster_rows == d.roster_rows else
             f"; {d.roster_rows:,} of them belong to customers with an open balance")
    lines = [
        f"# AP contact quality, {check.as_of}", "", verdict, "",
        f"{roster_rows:,} contacts on tonight's roster (a customer without any contact counts as one){owing}; "
        f"{d.failing_rows:,} of those fail a check that gates a channel.", "",
        "| check | gates | evaluated | failed | pass rate | change since last run |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for c in check.checks:
        lines.append(f"| {c.check} | {', '.join(c.gates) or 'report only'} | {c.evaluated:,} | {c.failed:,} | "
                     f"{c.pass_rate:.1%} | {c.change or 'first run'} |")
    lines += ["", "Customers with an open balance and no usable contact go to their collector's manual list:", ""]
    lines += [f"- {channel}: {n:,} customers" for channel, n in d.manual_customers.items()]
    lines += ["", "Where contacts' time zones come from (the hour a reminder arrives depends on it):", ""]
    lines += [f"- {source}: {n:,} contacts" + (f", {a:,} ambiguous (several clocks; the first was taken)" if a else "")
              for source, (n, a) in check.time_zone_sources.items()]
    lines += ["", "Cleanup worklists (artifacts `contact-cleanup-<collector>`; full lists as CSV):", ""]
    lines += [f"- {collector}: {n:,} contacts to fix" for collector, n in sorted(check.worklist_by_collector.items())]
    lines += ["", f"- CSV folder: `{check.worklists}`",
              f"- GX Data Docs: [{check.data_docs / 'index.html'}]({(check.data_docs / 'index.html').as_uri()})"]
    create_markdown_artifact("\n".join(lines), key="contact-quality",
                             description=f"AP contact checks and the sending gate, {check.as_of}")
    for collector, rows in work.groupby("collector"):
        shown = rows.head(WORKLIST_ARTIFACT_ROWS).drop(columns="collector").rename(columns=WORKLIST_COLUMNS)
        shown = shown.astype(object)
        create_table_artifact(
            shown.where(shown.notna(), "").astype(str).to_dict("records"), key=f"contact-cleanup-{slug(collector)}",
            description=f"Contacts for {collector} to fix, most overdue first ({len(shown):,} of {len(rows):,}; "
                        f"all in {check.worklists / (slug(collector) + '.csv')}). Addresses are masked.",
        )
