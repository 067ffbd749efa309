import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from residency.management.commands.seed_demo import PASSWORD


@pytest.mark.browser
def test_demo_owner_signs_in_and_sees_the_home_page(login, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    page = login("ana@acme.test", PASSWORD)
    expect(page.get_by_role("heading", name="Acme Analytics")).to_be_visible()
    expect(page.get_by_text("Primary owner on the Enterprise (usage-based) plan")).to_be_visible()


@pytest.mark.browser
def test_wrong_password_is_refused_with_a_message(login, live_server):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    page = login("ana@acme.test", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct email")
    expect(page.get_by_label("Email")).to_have_value("ana@acme.test")
