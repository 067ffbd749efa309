"""The Django admin writes through the services: audited, permission-checked, validated."""

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from audit.models import AuditEvent
from orgs import services
from orgs.models import Membership, Organization, Workspace
from residency import services as residency_services
from tests.factories import UserFactory, actor_for, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(email="staff@platform.test", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


ORG_FIELDS = {"name": "Acme", "plan": "enterprise_usage", "lock_reason": "", "legacy_opt_out": ""}


def test_admin_creates_an_organization_through_the_service(staff):
    response = staff.post(reverse("admin:orgs_organization_add"),
                          {**ORG_FIELDS, "name": "Admin Co", "owner_email": "boss@admin.test"})
    assert response.status_code == 302, response.content.decode()[:2000]
    org = Organization.objects.get(name="Admin Co")
    assert Membership.objects.get(organization=org).role_id == "primary_owner"
    created = AuditEvent.objects.get(organization=org, action="organization.created")
    staff_user = Organization._meta.apps.get_model("orgs", "User").objects.get(email="staff@platform.test")
    assert (created.source, created.actor_label, created.actor_role) == ("admin", staff_user.display_name, "Platform staff")
    assert created.actor_user_id == staff_user.pk


def test_admin_turning_us_only_on_is_audited_as_admin(staff, org):
    url = reverse("admin:orgs_organization_change", args=[quote(org.pk)])
    response = staff.post(url, {**ORG_FIELDS, "us_only_inference": "on"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.us_only_inference
    event = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (event.action, event.source, event.after) == ("inference_residency.updated", "admin", {"us_only": True})


def test_admin_removes_a_lock_only_with_a_reason_and_us_only_stays_read_only_while_locked(staff):
    """SPEC §2: staff remove a lock in the admin, giving a reason, audited (superseding the earlier
    "a lock can never be lifted"); while locked, US-only cannot be switched."""
    org = make_org(lock_reason="contract")
    url = reverse("admin:orgs_organization_change", args=[quote(org.pk)])
    page = staff.get(url).content.decode()
    assert 'name="us_only_inference"' not in page  # read-only while locked
    staff.post(url, {**ORG_FIELDS, "us_only_inference": "", "lock_reason": "contract"})
    org.refresh_from_db()
    assert org.us_only_inference and org.lock_reason == "contract"
    n = AuditEvent.objects.filter(organization=org).count()
    response = staff.post(url, {**ORG_FIELDS})
    assert response.status_code == 200 and "Say why the lock is added or removed" in response.content.decode()
    org.refresh_from_db()
    assert org.lock_reason == "contract" and AuditEvent.objects.filter(organization=org).count() == n
    response = staff.post(url, {**ORG_FIELDS, "reason": "Contract ended 2026-11-30"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.lock_reason is None
    event = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (event.action, event.source, event.after) == (
        "inference_residency.unlocked", "admin", {"lock_reason": None, "reason": "Contract ended 2026-11-30"})


def test_admin_refuses_a_lock_on_a_team_plan_and_a_plan_change_while_locked(staff):
    team = make_org(plan="team")
    url = reverse("admin:orgs_organization_change", args=[quote(team.pk)])
    response = staff.post(url, {**ORG_FIELDS, "plan": "team", "lock_reason": "contract", "reason": "deal"})
    assert response.status_code == 200 and "usage-based Enterprise plan" in response.content.decode()
    team.refresh_from_db()
    assert team.lock_reason is None
    locked = make_org(lock_reason="contract")
    url = reverse("admin:orgs_organization_change", args=[quote(locked.pk)])
    response = staff.post(url, {**ORG_FIELDS, "plan": "team", "lock_reason": "contract"})
    assert response.status_code == 200 and "remove the lock" in response.content.decode()
    locked.refresh_from_db()
    assert locked.plan == "enterprise_usage"


def test_admin_locks_the_policy_with_a_reason(staff, org):
    url = reverse("admin:orgs_organization_change", args=[quote(org.pk)])
    response = staff.post(url, {**ORG_FIELDS, "policy_locked": "on", "reason": "US-only by contract"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (event.action, event.after) == ("data_residency_policy.lock_changed",
                                           {"lock_reason": "contract", "reason": "US-only by contract"})


def test_admin_plan_error_shows_on_the_form_and_changes_nothing(staff, org):
    url = reverse("admin:orgs_organization_change", args=[quote(org.pk)])
    n = AuditEvent.objects.count()
    response = staff.post(url, {**ORG_FIELDS, "name": "  "})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode() or "Give the organization a name" in response.content.decode()
    assert AuditEvent.objects.count() == n


def test_admin_workspace_geo_is_read_only_after_creation_and_edits_are_audited(staff, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    url = reverse("admin:orgs_workspace_change", args=[quote(ws.pk)])
    page = staff.get(url).content.decode()
    assert 'name="workspace_geo"' not in page
    response = staff.post(url, {"name": "Prod", "allowed_inference_geos": "us", "default_inference_geo": "us",
                                "workspace_geo": "global"})
    assert response.status_code == 302
    ws.refresh_from_db()
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    event = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (event.action, event.source) == ("workspace.updated", "admin")


def test_admin_workspace_validation_error_is_shown_next_to_the_form(staff, org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    url = reverse("admin:orgs_workspace_change", args=[quote(ws.pk)])
    response = staff.post(url, {"name": "Prod", "allowed_inference_geos": "us", "default_inference_geo": "global"})
    assert response.status_code == 200
    assert "not in allowed_inference_geos" in response.content.decode()
    ws.refresh_from_db()
    assert ws.allowed_inference_geos is None


def test_admin_membership_role_change_goes_through_the_service(staff, org, owner):
    m = services.member_add(actor=actor_for(owner.user), organization=org, email="u@acme.test", role_id="user")
    response = staff.post(reverse("admin:orgs_membership_change", args=[quote(m.pk)]), {"role": "primary_owner"})
    assert response.status_code == 200  # only the primary owner may transfer: shown as an error
    assert "Only the primary owner" in response.content.decode()
    assert Membership.objects.get(pk=m.pk).role_id == "user"
    response = staff.post(reverse("admin:orgs_membership_change", args=[quote(m.pk)]), {"role": "admin"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(organization=org, action="member.role_changed", source="admin").exists()


def test_audit_events_are_read_only_in_admin(staff, org):
    event = AuditEvent.objects.filter(organization=org).first()
    assert staff.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    change = staff.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert staff.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert staff.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("name", ["organization", "membership", "role", "apikey", "workspace", "user"])
def test_every_list_page_renders(staff, org, name, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert staff.get(reverse(f"admin:orgs_{name}_changelist")).status_code == 200


def test_catalog_admin_is_editable(staff):
    response = staff.post(reverse("admin:residency_catalogmodel_add"), {
        "id": "claude-opus-5", "display_name": "Claude Opus 5", "supports_inference_geo": "on",
        "input_price": "5", "cache_write_5m_price": "6.25", "cache_write_1h_price": "10",
        "cache_read_price": "0.5", "output_price": "25",
    })
    assert response.status_code == 302
    assert Workspace.objects.count() == 0


def test_admin_cannot_edit_a_keys_status_only_revoke_it_through_the_service(staff, org, owner):
    from orgs.models import ApiKey
    from tests.factories import api_key_for

    api_key_for(owner, name="tool")
    key = ApiKey.objects.get(name="tool")
    url = reverse("admin:orgs_apikey_change", args=[quote(key.pk)])
    page = staff.get(url).content.decode()
    assert 'name="status"' not in page and "Active" in page
    staff.post(url, {"status": "archived"})
    key.refresh_from_db()
    assert key.status == "active"  # a POST of the form changes nothing
    response = staff.post(reverse("admin:orgs_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == "archived"
    event = AuditEvent.objects.filter(organization=org, action="api_key.revoked").latest("seq")
    assert (event.source, event.after) == ("admin", {"status": "archived"})


@pytest.mark.parametrize("url", [
    "/admin/audit/auditevent/?created_at__year=9999",
    "/admin/audit/auditevent/?created_at__year=9999&created_at__month=12",
    "/admin/audit/auditevent/?created_at__year=9999&created_at__month=12&created_at__day=31",
    "/admin/audit/auditevent/?created_at__lt=0001-01-01T00:00:00%2B05:00",
    "/admin/orgs/apikey/?revoked_at__gte=9999-12-31T23:59:59-05:00",
    "/admin/orgs/apikey/?last_used_at__gte=0001-01-01T00:00:00%2B05:00",
])
def test_dates_at_the_ends_of_the_calendar_are_a_400_page_not_a_500(staff, client, url):
    """The admin's date filters (date hierarchy, `__gte` lookups in the address) convert dates near
    years 1 and 9999 into overflows; the staff member gets a page saying which date to change."""
    client.raise_request_exception = False
    response = client.get(url)
    assert response.status_code == 400
    assert "out of range" in response.content.decode()
    assert client.get(url.split("?")[0]).status_code == 200  # the list itself still works
