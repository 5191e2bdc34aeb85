"""The contact policy: which AP-contact checks must pass before arpilot writes on a channel, and when to stop.

A controller tightens or relaxes the gate here, in the UI, without touching code.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, field_validator, model_validator

CHANNELS = ("email", "sms", "voice")

# Check names are stable: they key the warehouse history and the worklist. The suite in
# tasks/contacts/expectations.py defines one expectation per check.
CHECKS = (
    "ap_contact_exists",
    "email_valid",
    "phone_valid",
    "phone_reaches",
    "verified_recently",
    "no_bounce_since_verification",
    "email_not_shared",
    "addressee_is_ap",
    "opt_out_consistent_email",
    "opt_out_consistent_sms",
    "opt_out_consistent_voice",
)

_COMMON = ["ap_contact_exists", "verified_recently", "addressee_is_ap"]
DEFAULT_GATES = {
    "email": [*_COMMON, "email_valid", "no_bounce_since_verification", "email_not_shared", "opt_out_consistent_email"],
    "sms": [*_COMMON, "phone_valid", "phone_reaches", "opt_out_consistent_sms"],
    "voice": [*_COMMON, "phone_valid", "phone_reaches", "opt_out_consistent_voice"],
}


class ContactPolicy(Block):
    _block_type_name = "arpilot contact policy"
    _block_type_slug = "arpilot-contact-policy"
    _description = ("Which AP-contact checks gate email, SMS and voice, how fresh a verification must be, and "
                    "the share of failing contacts at which the nightly run stops before dunning.")

    verification_max_age_days: int = Field(180, ge=1, description="A contact verified longer ago than this fails.")
    max_failing_share: float = Field(
        0.20, ge=0, le=1,
        description="Stop the nightly run before dunning when more than this share of the AP contacts of "
                    "customers with an open balance fail a check that gates a channel.",
    )
    gates: dict[str, list[str]] = Field(
        default_factory=lambda: {channel: list(checks) for channel, checks in DEFAULT_GATES.items()},
        description="Channel (email, sms, voice) -> checks a contact must pass to be written to on it. "
                    "Leave a channel out when dunning does not use it; its checks then do not gate anything.",
    )
    check_all_customers: bool = Field(
        False,
        description="Also check the contacts of customers who owe nothing tonight. Off: the checks, the "
                    "worklists and the gate cover the customers dunning can write to, those with an open balance.",
    )
    output_dir: str = Field(
        "var/output/contact-quality",
        description="Where GX Data Docs and the collectors' cleanup worklists (CSV) are written; relative "
                    "paths are inside the arpilot checkout.",
    )
    ap_roles: list[str] = Field(
        ["AP", "Accounts Payable", "Billing", "Finance", "Accounting"],
        description="Contact roles (any case) that are a customer's accounts-payable desk.",
    )

    @field_validator("gates")
    @classmethod
    def _known_checks(cls, gates: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown_channels = sorted(set(gates) - set(CHANNELS))
        if unknown_channels:
            raise ValueError(f"gates name unknown channels {unknown_channels}; channels are {', '.join(CHANNELS)}")
        for channel, checks in gates.items():
            unknown = sorted(set(checks) - set(CHECKS))
            if unknown:
                raise ValueError(f"gates[{channel!r}] names unknown checks {unknown}; checks are {', '.join(CHECKS)}")
        return gates

    @model_validator(mode="after")
    def _roles_given(self) -> ContactPolicy:
        if not [r for r in self.ap_roles if r.strip()]:
            raise ValueError("ap_roles is empty: name at least one role, such as 'AP'")
        return self

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels dunning may use, in CHANNELS order."""
        return tuple(c for c in CHANNELS if c in self.gates)

    @property
    def uses_phone(self) -> bool:
        return "sms" in self.gates or "voice" in self.gates

    def gating_checks(self) -> set[str]:
        return {check for checks in self.gates.values() for check in checks}
