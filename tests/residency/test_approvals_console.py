"""The console and the Django admin under four-eyes approval (SPEC §8): Settings → Privacy →
Approvals and Change requests, "sent for approval" from every page that can loosen residency,
the banners while a request waits, and the confirmations to approve, reject and withdraw."""

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from residency import services
from residency.models import ApprovalSettings, ChangeRequest
from tests.factories import UserFactory, actor_for, add_member, primary_owner
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

SETTINGS = "/settings/privacy/approvals/"
LIST = "/settings/privacy/change-requests/"
US_ONLY = "/settings/privacy/data-residency/"


def detail(change_request, action=""):
    return f"{LIST}{change_request.pk}/" + (f"{action}/" if action else "")


def approvals_on(org):
    services.approval_settings_set(actor=actor_for(primary_owner(org).user), organization=org,
                                   loosening_requires_approval=True)


@pytest.fixture
def on(org, owner):
    services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    approvals_on(org)


@pytest.fixture
def held(org, owner, on):
    return services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)


def text(response):
    return html.unescape(response.content.decode())


# --- Settings → Privacy → Approvals ------------------------------------------------------------


def test_the_primary_owner_turns_approvals_on(org, owner, console):
    client = console(owner.user)
    page = text(client.get(SETTINGS))
    assert "Loosening changes need approval" in page and "Turn on" in page
    response = client.post(SETTINGS, {"loosening_requires_approval": "true"}, follow=True)
    assert "Approval of loosening changes is now on" in text(response)
    assert ApprovalSettings.objects.get(organization=org).loosening_requires_approval is True
    event = AuditEvent.objects.filter(organization=org).latest("seq")
    assert (event.action, event.source) == ("approval_settings.updated", "console")


def test_an_owner_cannot_turn_approvals_on_and_is_told_why(org, console):
    other_owner = add_member(org, "owner")
    client = console(other_owner.user)
    assert "Only the primary owner can turn this on" in text(client.get(SETTINGS))
    response = client.post(SETTINGS, {"loosening_requires_approval": "true"})
    assert response.status_code == 403 and "Only the primary owner" in text(response)
    assert not ApprovalSettings.objects.filter(organization=org, loosening_requires_approval=True).exists()


def test_asking_to_turn_approvals_off_sends_it_for_approval(org, owner, console):
    approvals_on(org)
    manager = add_member(org, "privacy_manage")
    client = console(manager.user)
    assert "Ask to turn off" in text(client.get(SETTINGS))
    response = client.post(SETTINGS, {"loosening_requires_approval": "false"})
    change_request = ChangeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(change_request)
    page = text(client.get(response["Location"]))
    assert "Sent for approval" in page and "approval of loosening changes" in page
    assert ApprovalSettings.objects.get(organization=org).loosening_requires_approval is True
    assert "Turning this off is waiting for approval" in text(client.get(SETTINGS))


def test_the_settings_page_is_hidden_without_privacy_view(org, console):
    assert console(add_member(org, "user").user).get(SETTINGS).status_code == 404
    viewer = console(add_member(org, "privacy_view").user)
    assert "You can see this setting but not change it" not in text(viewer.get(SETTINGS))  # off: only the owner
    assert viewer.post(SETTINGS, {"loosening_requires_approval": "false"}).status_code == 403
    assert viewer.post(SETTINGS, {"loosening_requires_approval": "maybe"}).status_code == 400


# --- the pages that can loosen: "sent for approval" ------------------------------------------------


def test_the_us_only_confirmation_says_it_needs_approval_and_sends_it(org, owner, on, console):
    client = console(owner.user)
    confirm = text(client.post(US_ONLY, {"us_only": "false"}))
    assert "This needs approval" in confirm and "Ask to turn off US-only inference" in confirm
    response = client.post(US_ONLY, {"us_only": "false", "confirmed": "on"})
    change_request = ChangeRequest.objects.get()
    assert response["Location"] == detail(change_request)
    page = text(client.get(response["Location"]))
    assert "Sent for approval: US-only inference was not changed" in page
    assert "Withdraw" in page and "Approve…" not in page  # the requester withdraws, never approves
    org.refresh_from_db()
    assert org.us_only_inference is True
    event = AuditEvent.objects.filter(organization=org).latest("seq")
    assert (event.action, event.source) == ("change_request.requested", "console")


def test_turning_us_only_on_never_waits(org, owner, console):
    approvals_on(org)
    client = console(owner.user)
    assert "This needs approval" not in text(client.post(US_ONLY, {"us_only": "true"}))
    response = client.post(US_ONLY, {"us_only": "true", "confirmed": "on"})
    assert response["Location"] == US_ONLY + "#us-only-switch"  # back to the switch (issue 13)
    org.refresh_from_db()
    assert org.us_only_inference is True and not ChangeRequest.objects.exists()


def test_a_loosening_workspace_form_sends_it_for_approval(org, owner, console):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    client = console(owner.user)
    form = {"name": "Prod", "allowed_mode": "unrestricted", "default_inference_geo": "us"}
    confirm = text(client.post(f"/workspaces/{ws.pk}/", form))
    assert "This needs approval" in confirm and "Send for approval" in confirm
    assert not ChangeRequest.objects.exists()
    response = client.post(f"/workspaces/{ws.pk}/", {**form, "confirmed": "on"})
    change_request = ChangeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(change_request)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]


# --- the Change requests pages ---------------------------------------------------------------


def test_the_list_shows_pending_first_with_before_and_after(org, owner, held, console):
    other_owner = add_member(org, "owner")
    older = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    services.change_request_reject(actor=actor_for(other_owner.user), organization=org, change_request=older)
    page = text(console(other_owner.user).get(LIST))
    assert page.index(held.pk) < page.index("Decided") < page.index(older.pk)
    assert "US-only inference</span> on → <strong>off</strong>" in page
    assert "Approve…" in page and "Rejected" in page


def test_the_detail_page_shows_the_cost_and_the_decision_buttons(org, owner, held, console):
    services.usage_ingest(actor=actor_for(owner.user), organization=org, records=[{
        "id": "apps-1", "surface": "apps", "model": "claude-opus-4-6", "inference_geo": "us",
        "service_tier": "standard", "occurred_at": (timezone.now() - timedelta(days=1)).isoformat(),
        "output_tokens": 1_000_000}])
    other_owner = add_member(org, "owner")
    page = text(console(other_owner.user).get(detail(held)))
    assert "Over the last 30 days this would have cost" in page and "$2.50 less" in page
    assert "$25.00 instead of the $27.50 billed" in page
    assert "Approve…" in page and "Reject…" in page and "Withdraw" not in page
    # a Privacy: manage member without billing access approves without the figure
    manager = add_member(org, "privacy_manage")
    page = text(console(manager.user).get(detail(held)))
    assert "needs billing access" in page and "$" not in page.split("What would change")[1].split("History")[0]
    # a viewer sees it, read-only
    page = text(console(add_member(org, "privacy_view").user).get(detail(held)))
    assert "Approve…" not in page and "needs Privacy: Can manage" in page


def test_approve_through_the_confirmation(org, owner, on, console):
    owner.user.first_name, owner.user.last_name = "Ana", "Ruiz"
    owner.user.save()
    held = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    approver = add_member(org, "owner")
    client = console(approver.user)
    confirm = client.get(detail(held, "approve"))
    assert confirm.status_code == 200 and "Approve Ana Ruiz's change to US-only inference?" in text(confirm)
    response = client.post(detail(held, "approve"), follow=True)
    assert "Change request approved and applied" in text(response)
    org.refresh_from_db()
    assert org.us_only_inference is False
    page = text(response)
    assert f"{approver.user.display_name} approved Ana Ruiz's change to US-only inference" in page
    change = AuditEvent.objects.get(organization=org, action="inference_residency.updated", after={"us_only": False})
    assert (change.source, change.actor_user_id, change.requested_by_id) == ("console", approver.user_id,
                                                                             owner.user_id)
    # the audit log shows both
    log = text(client.get("/audit-log/"))
    assert "requested by Ana Ruiz" in log


def test_a_conflict_is_said_on_the_request(org, owner, held, console):
    twin = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    approver = console(add_member(org, "owner").user)
    approver.post(detail(held, "approve"))
    response = approver.post(detail(twin, "approve"), follow=True)
    assert "changed after this request was made" in text(response)
    twin.refresh_from_db()
    assert twin.status == "conflict"


def test_reject_with_a_reason_and_the_reasons_limit(org, owner, held, console):
    client = console(add_member(org, "owner").user)
    long = client.post(detail(held, "reject"), {"reason": "x" * 501})
    assert long.status_code == 400 and "Use at most 500 characters" in text(long)
    held.refresh_from_db()
    assert held.status == "pending"
    client.post(detail(held, "reject"), {"reason": "Not this quarter"})
    held.refresh_from_db()
    assert (held.status, held.outcome_message) == ("rejected", "Not this quarter")
    again = client.post(detail(held, "reject"), follow=True)
    assert f"Change request {held.pk} is rejected; only a pending request can be" in text(again)
    assert "This change request is rejected; nothing more to do" in text(client.get(detail(held, "approve"),
                                                                                  follow=True))


def test_who_may_open_each_confirmation(org, owner, held, console):
    other_owner = console(add_member(org, "owner").user)
    assert other_owner.get(detail(held, "withdraw")).status_code == 403
    assert console(owner.user).get(detail(held, "approve")).status_code == 403
    assert console(owner.user).get(detail(held, "withdraw")).status_code == 200
    assert console(add_member(org, "privacy_view").user).get(detail(held, "approve")).status_code == 403
    assert console(add_member(org, "user").user).get(detail(held)).status_code == 404
    assert other_owner.get(detail(held, "explode")).status_code == 404
    assert other_owner.get(f"{LIST}chgreq_nope/").status_code == 404


def test_the_requester_withdraws(org, owner, held, console):
    client = console(owner.user)
    response = client.post(detail(held, "withdraw"), follow=True)
    assert "Change request withdrawn" in text(response)
    held.refresh_from_db()
    assert held.status == "withdrawn"


def test_a_request_past_its_time_shows_as_expired(org, owner, held, console):
    ChangeRequest.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    page = text(console(owner.user).get(detail(held)))
    assert "Expired" in page and "Withdraw…" not in page
    assert AuditEvent.objects.filter(organization=org, action="change_request.expired").count() == 1


@pytest.mark.parametrize("extra", [0, 30])
def test_the_list_keeps_its_query_count(org, owner, on, console, django_assert_num_queries, extra):
    other_owner = add_member(org, "owner")
    for _ in range(extra + 1):
        decided = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
        services.change_request_reject(actor=actor_for(other_owner.user), organization=org, change_request=decided)
    for _ in range(extra + 1):
        services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    client = console(other_owner.user)
    client.get(LIST)
    with django_assert_num_queries(9):
        assert client.get(LIST).status_code == 200


# --- banners while a request waits ----------------------------------------------------------------


def test_a_banner_on_overview_and_data_residency_while_a_request_waits(org, owner, held, console):
    viewer = console(add_member(org, "privacy_view").user)
    for url in ("/", US_ONLY):
        page = text(viewer.get(url))
        assert "1 change waiting for approval" in page and detail(held) in page
    assert "waiting for approval" not in text(console(add_member(org, "user").user).get("/"))
    services.change_request_withdraw(actor=actor_for(owner.user), organization=org, change_request=held)
    assert "waiting for approval" not in text(viewer.get("/"))


def test_the_menu_shows_approvals_to_privacy_viewers_on_every_plan(console):
    from tests.factories import make_org

    team = make_org(plan="team", name="Small")
    page = text(console(primary_owner(team).user).get("/"))
    assert 'href="/settings/privacy/approvals/"' in page and 'href="/settings/privacy/change-requests/"' in page
    assert "Data residency</a>" not in page  # US-only stays hidden off the usage plan


# --- the Django admin ------------------------------------------------------------------------------

ORG_FIELDS = {"name": "Acme", "plan": "enterprise_usage", "lock_reason": "", "legacy_opt_out": ""}


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(email="staff@platform.test", is_staff=True, is_superuser=True))
    return client


def test_admin_turning_us_only_off_is_sent_for_approval_and_kept(org, on, staff):
    response = staff.post(reverse("admin:orgs_organization_change", args=[org.pk]), ORG_FIELDS, follow=True)
    assert response.status_code == 200
    change_request = ChangeRequest.objects.get()  # survived the admin's transaction
    assert change_request.requested_by.email == "staff@platform.test" and change_request.after == {"us_only": False}
    page = text(response)
    assert f"sent for approval as change request {change_request.pk}" in page and "changed successfully" not in page
    org.refresh_from_db()
    assert org.us_only_inference is True
    event = AuditEvent.objects.filter(organization=org).latest("seq")
    assert (event.action, event.source, event.actor_role) == ("change_request.requested", "admin", "Platform staff")


def test_admin_loosening_a_workspace_is_sent_for_approval(org, owner, staff):
    ws = workspace(org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    approvals_on(org)
    response = staff.post(reverse("admin:orgs_workspace_change", args=[ws.pk]), {
        "name": "Prod", "allowed_inference_geos": "unrestricted", "default_inference_geo": "us"}, follow=True)
    assert "sent for approval as change request" in text(response)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and ChangeRequest.objects.get().target_id == ws.pk


def test_admin_tightening_applies_at_once(org, owner, staff):
    ws = workspace(org, "Prod")
    approvals_on(org)
    response = staff.post(reverse("admin:orgs_workspace_change", args=[ws.pk]), {
        "name": "Prod", "allowed_inference_geos": "us", "default_inference_geo": "us"}, follow=True)
    assert "changed successfully" in text(response)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and not ChangeRequest.objects.exists()
