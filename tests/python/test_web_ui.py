"""The web UI in a real browser (Debian's chromium driven by Playwright) against the real server
binary, on SQLite and PostgreSQL: log in (keyboard only), browse and filter the audit trail, open
an event's proof and download it, sign a record in the signing dialog, run the release gate from
the model dossier, review the trail and sign the review. Screenshots of the main pages go to
target/screenshots/ (or $MODELTRAIL_SCREENSHOTS). Accessibility basics are checked on every page:
labelled inputs, keyboard focus, readable contrast."""

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("MODELTRAIL_SCREENSHOTS", ROOT / "target" / "screenshots"))
CHROMIUM = "/usr/bin/chromium"

# Every visible form control has a label (a <label for>, a wrapping label or aria-label).
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""

# WCAG contrast ratio of an element's text against the nearest opaque background.
CONTRAST = """(selector) => {
  const lum = c => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = e => { while (e) { const c = getComputedStyle(e).backgroundColor;
      if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c; e = e.parentElement; }
    return 'rgb(255, 255, 255)'; };
  return Array.from(document.querySelectorAll(selector)).map(e => {
    const a = lum(getComputedStyle(e).color), b = lum(bg(e));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); });
}"""


def accessible(page, name: str):
    """Labels and contrast on the page, then a screenshot of it."""
    assert page.evaluate(UNLABELLED) == [], f"unlabelled inputs on {name}"
    for selector in ("main p", "main td", "header.top a", "button", ".muted"):
        ratios = page.evaluate(CONTRAST, selector)
        assert all(r >= 4.5 for r in ratios), f"{selector} on {name}: contrast {min(ratios)}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def setup_records(server):
    dev_password = server.person("dana", "developer")
    qa_password = server.person("quinn", "qa")
    dev = server.login("dana", dev_password)
    model = {"name": "tablet-coating", "owner": "dana",
             "intended_use": "Flags tablets with coating defects for manual inspection.",
             "context_of_use": "In-process control, line 3.", "gamp_category": 5,
             "risk": {"model_influence": "medium", "decision_consequence": "medium",
                      "rationale": "A person reviews every flag."}}
    status, answer = server.call("POST", "/api/v1/records/model", dev, {"id": "m-1", "data": model})
    assert status == 201, answer
    changed = dict(model, context_of_use="In-process control, lines 3 and 4.")
    status, answer = server.call("PUT", "/api/v1/records/model/m-1", dev,
                                 {"version": 1, "reason": "second line", "data": changed})
    assert status == 200, answer
    status, answer = server.call("POST", "/api/v1/records/model_version", dev, {
        "id": "mv-1", "data": {"model": "m-1", "version": "1",
                               "artifacts": [{"path": "model.pkl", "sha256": "a" * 64}]}})
    assert status == 201, answer
    # A failed login for the review to find.
    status, _ = server.call("POST", "/api/v1/auth/login", None,
                            {"username": "dana", "password": "not-the-password"})
    assert status == 401
    return qa_password


def test_reviewer_workflow_in_the_browser(server, browser, tmp_path):
    qa_password = setup_records(server)
    backend = server.backend
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    page = context.new_page()

    # Log in with the keyboard only: the user id field is reachable by Tab, Enter submits.
    page.goto("/login")
    accessible(page, f"{backend}-login")
    page.keyboard.press("Tab")  # the skip link
    for _ in range(5):
        if page.evaluate("document.activeElement.id") == "username":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("quinn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(qa_password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("header.top .who")).to_contain_text("quinn")
    accessible(page, f"{backend}-dashboard")

    # The trail, newest first, then filtered by actor and record type.
    page.goto("/trail")
    expect(page.locator("main table tbody tr").first).to_contain_text("auth.login")
    accessible(page, f"{backend}-trail")
    page.get_by_label("Actor (user id)").fill("dana")
    page.get_by_label("Record type").fill("model")
    page.get_by_role("button", name="Filter").click()
    # The trail's own rows, not those of the change tables inside them.
    rows = page.locator("main table.trail > tbody > tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("record.update")
    expect(rows.nth(0)).to_contain_text("second line")
    expect(rows.nth(0)).to_contain_text("lines 3 and 4")  # the new value beside the old
    expect(rows.nth(1)).to_contain_text("record.create")
    # Local time is filled in by the page's script.
    expect(rows.nth(0).locator(".local")).to_contain_text("local:")
    accessible(page, f"{backend}-trail-filtered")
    with page.expect_download() as csv:
        page.get_by_role("link", name="CSV").click()
    lines = Path(csv.value.path()).read_text().splitlines()
    assert len(lines) == 3 and lines[1].split(",")[6] == "record.update"

    # An event's proof, verified by the server, and the raw proof downloaded.
    rows.nth(0).locator("td").first.get_by_role("link").click()
    expect(page.locator("main")).to_contain_text("Verified by the server")
    accessible(page, f"{backend}-proof")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the raw proof (JSON)").click()
    proof = json.loads(Path(download.value.path()).read_text())
    assert proof["verified"] is True and proof["event"]["action"] == "record.update"

    # Sign the model in the dialog: it shows the version, asks the meaning and the password.
    page.goto("/records/model/m-1")
    accessible(page, f"{backend}-record")
    page.get_by_role("link", name="Sign version 2").click()
    dialog = page.locator("dialog#sign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("version 2")
    dialog.get_by_label("Meaning of the signature").select_option("approved")
    dialog.get_by_label("Your user id").fill("quinn")
    dialog.get_by_label("Your password").fill("wrong password")
    dialog.get_by_role("button", name="Sign version 2").click()
    expect(page.locator("#password-error")).to_contain_text("password is wrong")
    page.get_by_label("Meaning of the signature").select_option("approved")
    page.get_by_label("Your user id").fill("quinn")
    page.get_by_label("Your password").fill(qa_password)
    page.get_by_role("button", name="Sign version 2").click()
    expect(page.locator(".notice")).to_contain_text("Signed version 2 as approved")
    expect(page.locator("main")).to_contain_text("Quinn (quinn)")
    accessible(page, f"{backend}-record-signed")

    # The model dossier, and the release gate run from it: refused, every unmet item listed.
    page.goto("/model-versions/mv-1")
    expect(page.locator("table.checklist")).to_contain_text("intended_use_approved")
    accessible(page, f"{backend}-dossier")
    page.get_by_label("Target (serving system or site)").fill("line-3")
    page.get_by_role("button", name="Deploy (checks the gate)").click()
    expect(page.locator(".error")).to_contain_text("Release refused")
    expect(page.locator(".error")).to_contain_text("qa_release_signature")
    accessible(page, f"{backend}-gate-refused")

    # The audit-trail review: the failed login is flagged; findings recorded and signed.
    page.goto("/review?since=2000-01-01T00:00&until=2999-01-01T00:00")
    flagged = page.locator("main table tbody tr.attention")
    expect(flagged.filter(has_text="failed login")).to_have_count(1)
    accessible(page, f"{backend}-review")
    page.get_by_label("What was found").first.fill("One failed login by dana; she mistyped, confirmed by phone.")
    page.get_by_label("Conclusion on the integrity of the trail for the period").fill("The trail is complete and consistent.")
    page.get_by_role("button", name="Record the review and sign it").click()
    expect(page.locator("h1")).to_contain_text("Sign audit_trail_review")
    page.get_by_label("Meaning of the signature").select_option("reviewed")
    page.get_by_label("Your password").fill(qa_password)
    page.get_by_role("button", name="Sign version 1").click()
    expect(page.locator(".notice")).to_contain_text("Signed version 1 as reviewed")
    accessible(page, f"{backend}-review-signed")

    # Logged out, a page sends back to the login.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server.url}/login")
    page.goto("/trail")
    assert page.url == f"{server.url}/login"
    context.close()
