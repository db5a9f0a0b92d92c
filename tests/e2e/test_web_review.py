"""The doctor's read in real browsers: a patient shares a record from the history, a web doctor (signed
in with the operator's link) opens it on review.html and records a read, the patient sees it and
withdraws the link, and the doctor's page then says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .webpage import REPO, Server, choose_file, open_home, requires_chromium, screenshot, wait_result

pytestmark = [pytest.mark.e2e, requires_chromium]


def add_web_reviewer(server: Server, name: str) -> str:
    """``xiaofei reviewer add --web`` against the server's own store (as the operator would); the token."""
    if os.environ.get("XIAOFEI_E2E_URL"):
        pytest.skip("needs the store of the server under test")
    env = {**os.environ, "XIAOFEI_STORAGE": f"file://{server.store}", "XIAOFEI_PUBLIC_URL": server.url}
    out = subprocess.run(
        [sys.executable, "-m", "xiaofei", "reviewer", "add", "--web", "--name", name, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    added = json.loads(out.stdout)
    assert added["signin_url"].startswith(server.url + "/review.html#signin=")
    return str(added["signin_url"])


def test_share_a_record_with_a_doctor_and_see_their_read(
    new_page: Any, server: Server, drawn_file: Path
) -> None:
    # GIVEN a patient's analysed film
    patient = new_page()
    open_home(patient, server)
    choose_file(patient, drawn_file)
    record_id = wait_result(patient).get_attribute("data-id")

    # WHEN they open it from the history, consent to training and share it
    patient.locator("#tab-history").click()
    item = patient.locator(f'[data-testid="history-item"][data-id="{record_id}"]')
    expect(item.get_by_test_id("reviewed-tag")).to_have_count(0)
    item.get_by_test_id("history-open").click()
    panel = patient.locator("#detail").get_by_test_id("review-panel")
    expect(panel.get_by_test_id("review-none")).to_be_visible()
    panel.get_by_test_id("consent").check()
    expect(panel.get_by_test_id("consent")).to_be_checked()
    expect(panel.get_by_test_id("consent")).to_be_enabled()
    panel.get_by_test_id("share-hours").select_option("24")
    panel.get_by_test_id("share").click()
    link = panel.get_by_test_id("share-link").input_value()
    assert link.startswith(server.url + "/review.html#share=")
    expect(panel.get_by_test_id("share-item")).to_have_count(1)

    # AND a doctor who is not signed in as a reviewer is told to sign in first
    doctor = new_page(locale="en-US")
    doctor.goto(link)
    expect(doctor.locator("body")).to_have_attribute("data-ready", "true")
    expect(doctor.get_by_test_id("error-message")).to_have_attribute("data-code", "unauthorized")
    assert "#share" not in doctor.url  # the token left the address bar

    # WHEN the doctor signs in with the operator's link and opens the patient's link
    doctor.goto(add_web_reviewer(server, "Dr Web"))
    expect(doctor.locator("#review-status")).to_contain_text("Signed in")
    doctor.goto(link)
    card = wait_result(doctor)
    expect(card).to_have_attribute("data-id", record_id or "")
    # THEN they give their own read with a note
    doctor.get_by_test_id("verdict-label").check()
    doctor.get_by_test_id("review-label").select_option("viral")
    doctor.get_by_test_id("review-note").fill("patchy opacity, right lower zone")
    doctor.get_by_test_id("review-save").click()
    expect(doctor.get_by_test_id("review-saved")).to_contain_text("Saved")
    screenshot(doctor, "review-doctor")

    # AND the patient sees it on the record and in the history
    patient.locator("#detail-close").click()
    patient.locator("#tab-analyze").click()
    patient.locator("#tab-history").click()
    item = patient.locator(f'[data-testid="history-item"][data-id="{record_id}"]')
    expect(item.get_by_test_id("reviewed-tag")).to_be_visible()
    item.get_by_test_id("history-open").click()
    read = patient.locator("#detail").get_by_test_id("review-read")
    expect(read).to_have_attribute("data-verdict", "label")
    expect(read).to_contain_text("patchy opacity")
    expect(read).to_contain_text("Dr Web")
    panel = patient.locator("#detail").get_by_test_id("review-panel")
    expect(panel.get_by_test_id("consent")).to_be_checked()

    # WHEN the patient withdraws the link, THEN the doctor's page says so
    panel.get_by_test_id("share-revoke").click()
    expect(panel.get_by_test_id("share-revoke")).to_have_count(0)
    doctor.goto(link)
    expect(doctor.get_by_test_id("error-message")).to_have_attribute("data-code", "share_revoked")
    expect(doctor.get_by_test_id("error-message")).to_contain_text("withdrawn")
