"""Sales reps' comments on a credit review, where the approver looks: a table artifact on the review's own run,
published again with every comment (the run is paused, waiting for the approver's form, so it cannot publish it
itself)."""

from __future__ import annotations

import json
import uuid

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from sqlalchemy.engine import Engine

from tasks.credit.records import sales_comments

ARTIFACT_KEY = "credit-review-comments"


def publish_comments(engine: Engine, review_id: str) -> None:
    """The review's comments so far as the run's credit-review-comments artifact (review_id: its flow run id)."""
    with engine.connect() as conn:
        rows = [{"customer": r["customer_id"], "proposal": r["recommendation"], "sales comments": r["sales_comment"]}
                for r in sales_comments(conn, review_id)]
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(
            key=ARTIFACT_KEY, type="table", data=json.dumps(rows), flow_run_id=uuid.UUID(review_id),
            description=f"Sales reps' comments on the proposals: {len(rows)} customer(s)"))
