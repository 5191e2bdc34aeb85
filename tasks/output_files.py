"""Names of the files arpilot writes for people and other systems (worklists, call lists, reports, ERP imports),
and how a file another system reads is written: whole or not at all."""

from __future__ import annotations

import os
import re
from pathlib import Path


def slug(text: str) -> str:
    """A collector's or rep's name as a file name part: "Dana Whitfield" -> "dana-whitfield"."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "unassigned"


def write_whole(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a partial file renamed into place, so a reader (the ERP's import) never
    sees half a file and a rerun replaces it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path
