"""Edges found by trying the product as a new user: each a behaviour a caller would notice."""

import json

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from audit.models import AuditEvent
from orgs import services
from orgs.models import ApiKey
from residency import services as residency_services
from tests.factories import actor_for, add_member

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_json_even_in_debug_mode(client, settings):
    settings.DEBUG = True
    response = client.get("/v1/organizations/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["type"] == "not_found_error"


def test_oversized_body_is_413_in_the_contract_shape(api, owner, key_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"requests": [{"custom_id": str(i), "params": {"workspace_id": "w", "model": "m"}}
                                    for i in range(100)]})
    response = api(key_for(owner)).generic("POST", "/v1/residency/decisions/batch", body,
                                           content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


@pytest.mark.parametrize("path,body,unknown", [
    ("/v1/organizations/inference_residency", {"us_only": True, "extra": 1}, "extra"),
    ("/v1/organizations/roles", {"name": "R", "permissions": {}, "colour": "red"}, "colour"),
    ("/v1/organizations/users", {"email": "x@y.test", "role": "user", "name": "X"}, "name"),
    ("/v1/organizations/api_keys", {"name": "k", "scopes": ["all"]}, "scopes"),
])
def test_unknown_fields_are_refused_and_change_nothing(api, owner, key_for, path, body, unknown):
    secret = key_for(owner)
    before = AuditEvent.objects.count()
    response = api(secret).post(path, body, format="json")
    assert response.status_code == 400
    assert f"{unknown}: Unknown field" in response.json()["error"]["message"]
    assert AuditEvent.objects.count() == before


def test_changing_a_user_refuses_an_email_field(api, org, owner, key_for):
    member = add_member(org, "user")
    response = api(key_for(owner)).post(f"/v1/organizations/users/{member.user_id}",
                                        {"role": "admin", "email": "new@x.test"}, format="json")
    assert response.status_code == 400 and "email: Unknown field" in response.json()["error"]["message"]


def test_a_workspace_admin_changes_residency_but_cannot_rename(api, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=delegate, admin=True)
    _, secret = services.api_key_create(actor=actor_for(delegate.user), organization=org, name="d")
    client = api(secret)
    ok = client.post(f"/v1/organizations/workspaces/{ws.id}", {"data_residency": {"default_inference_geo": "us"}},
                     format="json")
    assert ok.status_code == 200 and ok.json()["data_residency"]["default_inference_geo"] == "us"
    renamed = client.post(f"/v1/organizations/workspaces/{ws.id}", {"name": "Mine now"}, format="json")
    assert renamed.status_code == 403
    assert "data residency only" in renamed.json()["error"]["message"]
    ws.refresh_from_db()
    assert ws.name == "Prod"


def test_admin_demoting_an_owner_is_told_why(org):
    admin = add_member(org, "admin")
    boss = add_member(org, "owner")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied) as exc:
        services.member_change_role(actor=actor_for(admin.user), membership=boss, role_id="user")
    assert f"{boss.user.email} is Owner, with more access than your own (Admin)" in str(exc.value)


def test_reloading_the_key_created_page_does_not_create_a_second_key(console, owner):
    client = console(owner.user)
    page = client.get(reverse("console:api_keys")).content.decode()
    token = page.split('name="submission" value="', 1)[1].split('"', 1)[0]
    form = {"name": "ci-bot", "submission": token}
    first = client.post(reverse("console:api_keys"), form)
    assert first.status_code == 200 and "rc-api-" in first.content.decode()
    again = client.post(reverse("console:api_keys"), form, follow=True)
    assert "already created" in again.content.decode()
    assert ApiKey.objects.filter(name="ci-bot").count() == 1


@pytest.fixture
def staff(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="ops@platform.test", is_staff=True, is_superuser=True))
    return client


CATALOG = {"display_name": "X", "input_price": "1", "cache_write_5m_price": "1", "cache_write_1h_price": "1",
           "cache_read_price": "1", "output_price": "1"}


def test_admin_refuses_a_malformed_model_id_and_negative_prices(staff):
    bad_id = staff.post(reverse("admin:residency_catalogmodel_add"), {**CATALOG, "id": "Bad Id!"})
    assert bad_id.status_code == 200 and "lowercase letters" in bad_id.content.decode()
    negative = staff.post(reverse("admin:residency_catalogmodel_add"), {**CATALOG, "id": "m-1", "output_price": "-1"})
    assert negative.status_code == 200 and "Prices cannot be negative" in negative.content.decode()


def test_admin_cannot_delete_catalog_models(staff):
    response = staff.post(reverse("admin:residency_catalogmodel_delete", args=["claude-opus-4-6"]), {"post": "yes"})
    assert response.status_code == 403


def test_admin_workspace_requires_allowed_geos_and_puts_errors_by_the_field(staff, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    url = reverse("admin:orgs_workspace_change", args=[quote(ws.pk)])
    blank = staff.post(url, {"name": "Prod", "allowed_inference_geos": "", "default_inference_geo": "global"})
    assert blank.status_code == 200 and "This field is required" in blank.content.decode()
    clash = staff.post(url, {"name": "Prod", "allowed_inference_geos": "us", "default_inference_geo": "global"})
    form = clash.context["adminform"].form
    assert "not in allowed_inference_geos" in form.errors["default_inference_geo"][0]


def test_make_admin_offers_only_members_who_would_gain_from_it(console, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    plain, manager = add_member(org, "user"), add_member(org, "privacy_manage")
    page = console(owner.user).get(reverse("console:workspace_detail", args=[ws.pk])).content.decode()
    offered = page.split('id="new-admin"', 1)[1].split("</select>", 1)[0]
    assert f'value="{plain.pk}"' in offered
    assert f'value="{manager.pk}"' not in offered and f'value="{owner.pk}"' not in offered


# Invitations (a link emailed to the addressee alone, SPEC §6) are tested end to end in
# tests/orgs/test_accounts.py.


def test_restricting_to_no_geos_is_one_clear_error(console, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    response = console(owner.user).post(reverse("console:workspace_detail", args=[ws.pk]), {
        "name": "Prod", "allowed_mode": "restricted", "default_inference_geo": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tick at least one geo, or choose Unrestricted." in page
    assert page.count('class="field-error"') == 1  # one clear error, not a second about the default


def test_the_console_reopens_in_the_organization_last_switched_to(client, org, owner):
    from tests.factories import make_org

    other = make_org(name="Zeta")  # sorts after "Acme"
    services.member_add(actor=actor_for(primary_owner_of(other)), organization=other, email=owner.user.email,
                        role_id="owner")
    client.force_login(owner.user)
    client.post(reverse("console:switch_organization"), {"organization_id": other.pk})
    client.logout()
    client.force_login(owner.user)
    assert "<h1>Zeta</h1>" in client.get(reverse("console:home")).content.decode()


def primary_owner_of(org):
    from tests.factories import primary_owner

    return primary_owner(org).user
