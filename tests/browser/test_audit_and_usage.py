import csv
import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from residency.management.commands.seed_demo import PASSWORD


@pytest.fixture
def demo(live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))


@pytest.mark.browser
def test_an_auditor_filters_the_log_and_downloads_csv(demo, login, live_server):
    page = login("audrey@acme.test", PASSWORD)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Integrity")).to_be_visible()
    page.get_by_label("Action").select_option("workspace.created")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("table.audit-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("created workspace Research (allowed geos global, us, default geo global)")
    expect(rows.filter(has_text=" added ")).to_have_count(0)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("audit-log-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as f:
        exported = list(csv.DictReader(io.StringIO(f.read())))
    assert [r["action"] for r in exported] == ["workspace.created"] * 3
    assert {r["target_label"] for r in exported} == {"Production", "Staging", "Research"}
    page.get_by_role("button", name="Verify the chain now").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact.")


@pytest.mark.browser
def test_the_usage_chart_renders_with_data(demo, login, live_server):
    page = login("nina@acme.test", PASSWORD)  # Billing analyst: billing and analytics view
    page.get_by_role("link", name="Usage & cost").click()
    expect(page.get_by_role("heading", name="Usage & cost")).to_be_visible()
    tokens = page.locator('svg[data-chart="tokens"]')
    expect(tokens).to_be_visible()
    assert tokens.locator("rect[data-series]").count() > 10
    assert tokens.bounding_box()["height"] > 150
    expect(page.locator('svg[data-chart="cost"]')).to_be_visible()
    expect(page.get_by_text("Includes the 1.1× US uplift")).to_be_visible()
    page.get_by_label("Model").select_option("claude-haiku-4-5")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('svg[data-chart="tokens"] rect[data-series="us"]')).to_have_count(0)
    expect(page.locator('svg[data-chart="tokens"] rect[data-series="not_available"]').first).to_be_visible()
