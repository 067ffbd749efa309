"""API keys page: create (secret shown once), list, revoke."""

import re
from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from orgs.models import ApiKey
from orgs.services import hash_api_key
from tests.factories import add_member, api_key_for
from tests.orgs.matrix import build_people, console_client, expect

KEYS = "/api-keys/"


def page_text(response):
    return " ".join(unescape(response.content.decode()).split())


def shown_secret(response):
    return re.search(r'id="new-key" value="(rc-api-[A-Za-z0-9]+)"', response.content.decode()).group(1)


@pytest.fixture
def people(org):
    return build_people(org)


@pytest.fixture
def user_key(people):
    """A key of Acme's plain user that the matrix tries to revoke."""
    api_key_for(people["user"], name="ci-bot")
    return ApiKey.objects.get(name="ci-bot")


def test_url_names():
    assert reverse("console:api_keys") == KEYS


@pytest.mark.parametrize("who,status", expect(200, anonymous=302))
def test_list_role_matrix(people, user_key, who, status):
    response = console_client(people, who).get(KEYS)
    assert response.status_code == status
    # everyone's keys for identity & access viewers, else only one's own
    sees_ci_bot = who in ("primary_owner", "owner", "user")
    if status == 200:
        assert ("ci-bot" in response.content.decode()) == sees_ci_bot


@pytest.mark.parametrize("who,status", expect(200, anonymous=302))
def test_create_role_matrix(people, who, status):
    response = console_client(people, who).post(KEYS, {"name": "my tool"})
    assert response.status_code == status
    if status == 200:
        key = ApiKey.objects.get(name="my tool")
        assert key.membership_id == people[who].pk
        assert key.key_hash == hash_api_key(shown_secret(response))


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, user=200, anonymous=302))
def test_revoke_confirm_role_matrix(people, user_key, who, status):
    assert console_client(people, who).get(f"/api-keys/{user_key.pk}/revoke/").status_code == status


@pytest.mark.parametrize("who,status", expect(404, primary_owner=302, owner=302, user=302, anonymous=302))
def test_revoke_role_matrix(people, user_key, who, status):
    response = console_client(people, who).post(f"/api-keys/{user_key.pk}/revoke/")
    assert response.status_code == status
    user_key.refresh_from_db()
    assert user_key.is_active == (status != 302 or who == "anonymous")


def test_create_shows_the_secret_once_with_a_copy_button(console, owner, org, api):
    client = console(owner.user)
    response = client.post(KEYS, {"name": "provisioning"})
    html = page_text(response)
    assert "Copy this key now." in html and 'data-copy-target="new-key"' in html
    assert response["Cache-Control"] == "no-store"
    secret = shown_secret(response)
    assert api(secret).get("/v1/organizations/me").status_code == 200
    listing = page_text(client.get(KEYS))
    assert secret not in listing and secret[-4:] in listing and "provisioning" in listing
    key = ApiKey.objects.get(name="provisioning")
    event = AuditEvent.objects.get(organization=org, action="api_key.created", target_id=key.pk)
    assert event.after == {"name": "provisioning", "user_id": owner.user_id, "hint": secret[-4:]}
    assert event.actor_user_id == owner.user_id and event.source == "console"


def test_list_columns(console, owner, api, key_for):
    api(key_for(owner)).get("/v1/organizations/me")  # records last use
    html = page_text(console(owner.user).get(KEYS))
    for text in ("Name", "Owner", "Created", "Last used", "Status", "test key", owner.user.email, "Active"):
        assert text in html, text
    assert "Never" not in html


def test_name_errors_show_next_to_the_field(console, owner):
    html = page_text(console(owner.user).post(KEYS, {"name": ""}))
    assert 'class="field has-error"' in html and "Give the key a name" in html
    assert ApiKey.objects.count() == 0


def test_identity_managers_create_keys_for_others(console, owner, org):
    other = add_member(org, "user")
    client = console(owner.user)
    assert 'name="user_id"' in client.get(KEYS).content.decode()
    response = client.post(KEYS, {"name": "for them", "user_id": other.user_id})
    assert response.status_code == 200
    assert ApiKey.objects.get(name="for them").membership_id == other.pk


def test_others_cannot_pick_an_owner(console, people):
    client = console_client(people, "admin")
    assert 'name="user_id"' not in client.get(KEYS).content.decode()
    client.post(KEYS, {"name": "sneaky", "user_id": people["owner"].user_id})
    assert ApiKey.objects.get(name="sneaky").membership_id == people["admin"].pk


def test_revoke_asks_then_the_key_stops_working_at_once(console, owner, org, api):
    secret = api_key_for(owner, name="old")
    key = ApiKey.objects.get(name="old")
    client = console(owner.user)
    assert "stops working at once" in page_text(client.get(f"/api-keys/{key.pk}/revoke/"))
    assert api(secret).get("/v1/organizations/me").status_code == 200
    response = client.post(f"/api-keys/{key.pk}/revoke/", follow=True)
    assert "API key old is revoked" in page_text(response)
    assert "Revoked" in page_text(response)
    assert api(secret).get("/v1/organizations/me").status_code == 401
    event = AuditEvent.objects.get(organization=org, action="api_key.revoked")
    assert (event.before, event.after, event.actor_user_id) == ({"status": "active"}, {"status": "archived"}, owner.user_id)


@pytest.mark.parametrize("extra", [0, 199])
def test_list_query_count_is_pinned(console, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        api_key_for(add_member(org, "user"))
    api_key_for(owner)
    client = console(owner.user)
    client.get("/")
    with django_assert_num_queries(8):
        assert client.get(KEYS).status_code == 200


def test_key_dates_say_they_are_utc(console, owner, org):
    api_key_for(owner, name="ci")
    html = console(owner.user).get(reverse("console:api_keys")).content.decode()
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", html)
