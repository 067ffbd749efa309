"""A member creates an API key in the console, copies it, and it works over REST."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, add_member, make_org

pytestmark = pytest.mark.browser


def test_member_creates_a_key_and_copies_it(login, live_server, page):
    org = make_org(plan="enterprise_usage", name="Acme")
    member = add_member(org, "user")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    login(member.user.email, PASSWORD)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("laptop script")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_text("Copy this key now.")).to_be_visible()
    secret = page.get_by_label("Your new key").input_value()
    assert secret.startswith("rc-api-")
    copy = page.get_by_role("button", name="Copy")
    copy.click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    request = urllib.request.Request(f"{live_server.url}/v1/organizations/me", headers={"x-api-key": secret})
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["name"] == "Acme"

    page.get_by_role("link", name="Done").click()
    row = page.get_by_role("row", name="laptop script")
    expect(row).to_contain_text(member.user.email)
    expect(row).to_contain_text("Active")
    expect(page.get_by_text(secret)).to_have_count(0)  # shown once, never again
