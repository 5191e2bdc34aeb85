"""The pay portal: where customers open their signed pay links, and the key that signs them.

`arpilot serve` answers the links; every reminder carries one when the dunning policy names this block.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator


class PayPortal(Block):
    _block_type_name = "arpilot pay portal"
    _block_type_slug = "arpilot-pay-portal"
    _description = "Public address and signing key of the pay portal (arpilot serve) behind every pay link."

    base_url: str = Field(..., description="Public address customers reach the portal at, behind your TLS proxy "
                                           "(e.g. https://pay.northwind.example).")
    signing_key: SecretStr = Field(..., description="Secret the pay links are sealed with (32+ random characters); "
                                                    "changing it invalidates every link already sent.")
    link_lifetime_days: int = Field(45, ge=1, le=365, description="Days a pay link stays valid after the reminder "
                                                                  "that carries it.")
    autopay_cap_multiple: int = Field(2, ge=1, description="A mandate made in the portal may charge at most this "
                                                           "many times the larger of the open balance and the "
                                                           "largest invoice of the last year, per charge.")

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError(f"base_url {v!r} must start with https:// (http:// only for a local test)")
        return v.rstrip("/")

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 32:
            raise ValueError("signing_key must be at least 32 characters: a short key can be guessed")
        return v
