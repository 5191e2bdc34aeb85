"""Names of the files arpilot writes for people (worklists, call lists, reports)."""

from __future__ import annotations

import re


def slug(text: str) -> str:
    """A collector's or rep's name as a file name part: "Dana Whitfield" -> "dana-whitfield"."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "unassigned"
