"""automations.yaml as the install reads it: every automation valid for Prefect once its block's id is filled in,
the failed-run alert on every arpilot deployment's Failed, Crashed and TimedOut, the late alert on the nightly."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from tasks.alerts.automations import named_blocks, read_automations, with_block_ids


def test_the_repository_automations_are_valid_prefect_automations_sending_through_the_alert_block():
    written = read_automations()
    assert named_blocks(written) == {"arpilot-alert-email/arpilot"}
    block_id = str(uuid4())
    failed, late = with_block_ids(written, {"arpilot-alert-email/arpilot": block_id})
    assert [a.name for a in (failed, late)] == ["arpilot run failed", "arpilot nightly late"]
    assert {str(action.block_document_id) for a in (failed, late) for action in a.actions} == {block_id}

    assert failed.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"}
    assert failed.trigger.posture == "Reactive" and failed.trigger.for_each == {"prefect.resource.id"}
    assert all(part in failed.actions[0].body
               for part in ("flow_run.name", "flow_run.state.message", "flow_run|ui_url", "README.md#runbook-"))

    assert late.trigger.posture == "Proactive" and late.trigger.within == timedelta(hours=4)
    assert late.trigger.match_related.model_dump() == {"prefect.resource.role": "deployment",
                                                       "prefect.resource.name": "nightly"}
    assert "prefect.flow-run.Completed" in late.trigger.expect and "prefect.flow-run.Late" in late.trigger.after
