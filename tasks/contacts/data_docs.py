"""GX Data Docs a controller can read on a finance network without internet.

Great Expectations' page templates load Bootstrap, jQuery, Vega and Font Awesome from public CDNs (and its logo
from S3); offline they render unstyled. After a build, the pages get copies of those files (shipped in
reports/data_docs_assets, see its README) under ``static/vendor`` and every CDN address becomes a relative path.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "reports" / "data_docs_assets"
VENDOR = Path("static") / "vendor"

# What GE 1.24.1's templates (render/view/templates/*.j2, static/styles) load -> the shipped copy, relative to the
# docs folder.
LOCAL_COPIES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/umd/popper.min.js",
    **{f"https://unpkg.com/bootstrap-table@1.19.1/dist/{name}": f"bootstrap-table-1.19.1/{name}"
       for name in ("bootstrap-table.min.css", "bootstrap-table.min.js")},
    **{f"https://unpkg.com/bootstrap-table@{version}/dist/extensions/filter-control/{name}":
       f"bootstrap-table-1.19.1/extensions/filter-control/{name}"
       for version in ("1.19.0", "1.19.1")
       for name in ("bootstrap-table-filter-control.css", "bootstrap-table-filter-control.min.css",
                    "bootstrap-table-filter-control.min.js")},
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark-1.1.0/css/bootstrap-prefers-dark.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "fontawesome-free-6.6.0/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/vega-embed.min.js",
}
# GE's own logo comes from S3 (with a cache-busting query); the build already copies it into static/images.
LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+\.amazonaws\.com/[\w-]+\.png(\?[^\"')\s]*)?")
# A local file cannot answer a CORS request, so integrity/crossorigin attributes would block the local copies.
CORS_ATTRIBUTES = re.compile(r'\s+(integrity|crossorigin)="[^"]*"')
ADDRESS = re.compile("|".join(re.escape(url) for url in sorted(LOCAL_COPIES, key=len, reverse=True)))


def localize_page(text: str, to_docs_root: str) -> str:
    """The page or stylesheet with every CDN and S3 address replaced by the local copy's relative path."""
    prefix = f"{to_docs_root}/" if to_docs_root not in ("", ".") else ""
    text = ADDRESS.sub(lambda m: f"{prefix}{VENDOR.as_posix()}/{LOCAL_COPIES[m.group(0)]}", text)
    text = LOGO.sub(f"{prefix}static/images/logo-long.png", text)
    return CORS_ATTRIBUTES.sub("", text)


def ship_offline_assets(docs_dir: Path) -> None:
    """Copy the shipped assets into a built Data Docs site and point its pages (and GE's stylesheets) at them."""
    shutil.copytree(ASSETS, docs_dir / VENDOR, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md", "SHA256SUMS"))
    vendor = docs_dir / VENDOR
    for page in [*docs_dir.rglob("*.html"), *docs_dir.glob("static/styles/*.css")]:
        if vendor in page.parents:
            continue
        root = os.path.relpath(docs_dir, page.parent)
        page.write_text(localize_page(page.read_text(encoding="utf-8"), Path(root).as_posix()), encoding="utf-8")
