"""GX Data Docs on a finance network without internet: Debian's chromium (headless, every request off the machine
refused) opens the index and tonight's validation page styled (Bootstrap, Font Awesome) with their scripts
running (jQuery, Bootstrap, bootstrap-table, Vega), and never tries a remote host."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
import pytest
from playwright import sync_api as playwright

from blocks.contact_policy import ContactPolicy
from tasks.contacts.expectations import build_suites, run_suites

BOOTSTRAP_PRIMARY = "rgb(0, 123, 255)"  # .btn-primary in Bootstrap 4.3.1; unstyled it is transparent
BOOTSTRAP_DANGER = "rgb(220, 53, 69)"  # .text-danger
BOOTSTRAP_ALERT = "rgb(226, 227, 229)"  # .alert-secondary


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """Data Docs of the customer suite, built as the nightly contact check builds them: one customer fails."""
    _, customer_suite = build_suites(ContactPolicy(), date(2026, 11, 23))
    docs = tmp_path_factory.mktemp("contacts") / "data-docs"
    run_suites([(customer_suite, pd.DataFrame({"row": [0, 1, 2], "contacts_on_file": [1, 0, 2]}))], docs)
    return docs


@pytest.fixture(scope="module")
def offline_browser():
    """Chromium that resolves no host name; every request that is not a local file is aborted and recorded."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--host-resolver-rules=MAP * ~NOTFOUND"])
        context = browser.new_context()
        remote = []

        def refuse_remote(route):
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                remote.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", refuse_remote)
        yield context, remote
        browser.close()


def open_offline(offline_browser, page_path):
    context, remote = offline_browser
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(page_path.as_uri(), wait_until="load")
    page.evaluate("document.fonts.ready")
    return page, remote, failed


def test_the_index_is_styled_and_its_scripts_run_with_the_network_off(docs, offline_browser):
    page, remote, failed = open_offline(offline_browser, docs / "index.html")
    assert remote == [] and failed == []
    assert page.eval_on_selector(".btn-primary", "e => getComputedStyle(e).backgroundColor") == BOOTSTRAP_PRIMARY
    assert page.eval_on_selector(".navbar", "e => getComputedStyle(e).display") == "flex"
    assert page.evaluate("typeof jQuery === 'function' && typeof jQuery.fn.tooltip === 'function'"
                         " && typeof jQuery.fn.bootstrapTable === 'function'")
    assert page.evaluate("typeof vega === 'object' && typeof vegaLite === 'object' && typeof vegaEmbed === 'function'")
    # the suite's results are listed by bootstrap-table, which only its script draws
    assert page.locator(".ge-index-page-validation-results-table .bootstrap-table, .bootstrap-table").count() >= 1
    page.close()


def test_the_validation_page_shows_the_failed_check_with_its_icon_offline(docs, offline_browser):
    [validation] = (docs / "validations").rglob("*.html")
    page, remote, failed = open_offline(offline_browser, validation)
    assert remote == [] and failed == []
    assert "Every customer with an open balance has a contact on file" in page.inner_text("body")
    icon = page.locator(".fa-times.text-danger").first
    assert icon.evaluate("e => getComputedStyle(e).color") == BOOTSTRAP_DANGER
    assert "Font Awesome 6 Free" in icon.evaluate("e => getComputedStyle(e).fontFamily")
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"', '\\uf00d')")
    assert page.eval_on_selector(".alert-secondary", "e => getComputedStyle(e).backgroundColor") == BOOTSTRAP_ALERT
    page.close()
