"""Who hears about a dispute or a broken promise, how soon, and how far up it goes.

The executives set it: the AR manager and the account's sales rep hear of every dispute the moment it is seen;
a dispute still open after a level's days goes up to that level (controller, CFO); promises to pay get a grace
and a count of broken ones after which sales steps in; sales reps hear before an account's final notice.
Sales reps' and collectors' addresses come from the report recipients block, where they already are.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import BaseModel, Field, field_validator

from blocks.email_channel import email_addresses


class EscalationLevel(BaseModel):
    """A dispute open ``days`` days or more goes up to ``title`` (level 1 is the first entry, and so on)."""

    days: int = Field(..., ge=1, description="Days since the dispute was first seen.")
    title: str = Field(..., min_length=1, description="Who it goes to, as the emails say it (controller, CFO).")
    to: list[str] = Field(..., min_length=1, description="Their addresses.")

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        return email_addresses(v)


class EscalationPolicy(Block):
    _block_type_name = "arpilot escalation policy"
    _block_type_slug = "arpilot-escalation-policy"
    _description = "Disputes and promises to pay: who is told, escalation levels by days open, promise grace."

    ar_managers: list[str] = Field(..., min_length=1, description="AR manager addresses: told of every new and "
                                                                  "resolved dispute.")
    levels: list[EscalationLevel] = Field(default_factory=list, description="Escalation levels by days open, "
                                                                            "e.g. 10 days controller, 30 CFO.")
    promise_grace_days: int = Field(3, ge=0, description="Days after a promised date before the promise counts "
                                                         "as broken (a payment takes a day or two to show).")
    broken_promises_for_sales: int = Field(2, ge=1, description="Broken promises within broken_promise_window_days "
                                                                "after which the sales rep is told.")
    broken_promise_window_days: int = Field(365, ge=1, description="How far back broken promises count.")
    sales_heads_up_days: int = Field(7, ge=1, description="Days before an account reaches a final step that its "
                                                          "sales rep is asked: proceed, hold, or soften.")
    sales_answer_hours: int = Field(48, ge=0, description="How long the sales rep's decision run waits for an "
                                                          "answer; silence means proceed.")
    sales_hold_days: int = Field(14, ge=1, description="Days a sales rep's 'hold' stops reminders to the account.")

    @field_validator("ar_managers")
    @classmethod
    def _managers(cls, v: list[str]) -> list[str]:
        return email_addresses(v)

    @field_validator("levels")
    @classmethod
    def _rising(cls, levels: list[EscalationLevel]) -> list[EscalationLevel]:
        days = [level.days for level in levels]
        if days != sorted(set(days)):
            raise ValueError(f"levels must have rising days, each once: {days}")
        return levels
