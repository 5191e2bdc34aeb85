"""Install arpilot's alerts: the automations in automations.yaml, created on the Prefect server (or replaced, by
name), each send-notification action pointed at the block the file names.

Prefect's own `prefect automation create --from-file` needs the block's id, which differs on every server; the
file names the block (`block: arpilot-alert-email/arpilot`) and the install looks its id up, so one file in the
repository serves every installation.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import AutomationCore

from blocks.ledger import PROJECT_ROOT

AUTOMATIONS_FILE = PROJECT_ROOT / "automations.yaml"


class AlertsNotInstalled(LookupError):
    """An automation names a notification block the Prefect server does not have."""


def read_automations(path: Path = AUTOMATIONS_FILE) -> list[dict]:
    """The automations in ``path``, as written (a list under `automations:`)."""
    return yaml.safe_load(path.read_text())["automations"]


def named_blocks(automations: list[dict]) -> set[str]:
    """Every "type-slug/name" a send-notification action names."""
    return {action["block"] for a in automations for action in a["actions"] if "block" in action}


def with_block_ids(automations: list[dict], ids: dict[str, str]) -> list[AutomationCore]:
    """The automations, each action's `block` replaced by that block's `block_document_id`, validated by Prefect."""
    resolved = []
    for automation in automations:
        actions = [{k: v for k, v in a.items() if k != "block"} | ({"block_document_id": ids[a["block"]]}
                                                                   if "block" in a else {})
                   for a in automation["actions"]]
        resolved.append(AutomationCore.model_validate(automation | {"actions": actions}))
    return resolved


async def install_automations(path: Path = AUTOMATIONS_FILE) -> list[str]:
    """Create the file's automations on the server that PREFECT_API_URL names, replacing any of the same name;
    returns their names. A block the file names must exist first (the error says which and how)."""
    automations = read_automations(path)
    async with get_client() as client:
        ids = {}
        for name in sorted(named_blocks(automations)):
            slug, _, document = name.partition("/")
            try:
                ids[name] = str((await client.read_block_document_by_name(document, slug)).id)
            except Exception as error:  # Prefect raises ObjectNotFound, or a 404 HTTP error for an unknown type
                raise AlertsNotInstalled(
                    f"block {name} does not exist ({type(error).__name__}); create it (README, Alerts: "
                    f"arpilot alert email) and run `arpilot alerts install` again") from None
        installed = []
        for automation in with_block_ids(automations, ids):
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            await client.create_automation(automation)
            installed.append(automation.name)
    return installed
