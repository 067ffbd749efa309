"""GET/POST /v1/organizations/inference_residency (SPEC §3, contract)."""

import pytest

from audit.models import AuditEvent
from orgs import services
from orgs.models import Organization
from residency import services as residency_services
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner
from tests.orgs.matrix import api_client, build_people, expect

URL = "/v1/organizations/inference_residency"


@pytest.fixture
def people(org):
    return build_people(org)


def body(us_only=False, *, locked=False, lock_reason=None, can_manage=True):
    return {"type": "inference_residency", "us_only": us_only, "locked": locked,
            "lock_reason": lock_reason, "can_manage": can_manage}


GET_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=200,
                    other_org=200, anonymous=401)


@pytest.mark.parametrize("who,status", GET_STATUS)
def test_get_role_matrix(people, who, status):
    response = api_client(people, who).get(URL)
    assert response.status_code == status
    assert response["request-id"].startswith("req_")
    if status == 200:
        assert response.json() == body(can_manage=who != "privacy_view")
    else:
        assert response.json()["type"] == "error"
        assert response.json()["request_id"] == response["request-id"]
    if status == 404:
        assert response.json()["error"] == {"type": "not_found_error", "message": "Not found.", "details": None}


POST_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=403,
                     other_org=200, anonymous=401)


@pytest.mark.parametrize("who,status", POST_STATUS)
def test_post_role_matrix_and_audit(people, org, who, status):
    client = api_client(people, who)
    response = client.post(URL, {"us_only": True}, format="json")
    assert response.status_code == status
    org.refresh_from_db()
    acme_changed = who in ("primary_owner", "owner", "privacy_manage")
    assert org.us_only_inference is acme_changed
    changes = AuditEvent.objects.filter(organization=org, action="inference_residency.updated")
    denials = AuditEvent.objects.filter(organization=org, action="inference_residency.change_denied")
    if acme_changed:
        assert response.json() == body(True)
        [event] = changes
        key_id = org.memberships.get(user_id=people[who].user_id).api_keys.get().pk
        assert (event.actor_type, event.actor_id, event.actor_user_id) == ("api_key", key_id, people[who].user_id)
        assert (event.before, event.after, event.source) == ({"us_only": False}, {"us_only": True}, "rest")
        assert event.request_id == response["request-id"]
    else:
        assert not changes.exists()
    if who in ("privacy_view", "admin", "user", "privacy_none", "auditor"):
        [denied] = denials
        assert denied.outcome == "denied" and denied.actor_type == "api_key"
        assert denied.actor_user_id == people[who].user_id
        assert (denied.before, denied.after) == ({"us_only": False}, {"us_only": True, "denied": "permission"})
    else:
        assert not denials.exists()
    if status == 403:
        assert response.json()["error"]["type"] == "permission_error"
        assert "Privacy: Can manage" in response.json()["error"]["message"]
    if who == "other_org":
        assert Organization.objects.get(pk=people["other_org"].organization_id).us_only_inference is True


@pytest.mark.parametrize("plan,label", [("team", "Team"), ("enterprise_seat", "Enterprise (seat-based)")])
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_plans_answer_404_naming_the_plan_requirement(db, api, plan, label, method):
    other = make_org(plan=plan)
    client = api(api_key_for(primary_owner(other)))
    response = getattr(client, method)(URL, {"us_only": True}, format="json") if method == "post" else client.get(URL)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "type": "not_found_error",
        "message": f"US-only inference is available on usage-based Enterprise plans; this organization is on the {label} plan.",
        "details": None,
    }
    assert not AuditEvent.objects.filter(organization=other, action__startswith="inference_residency").exists()


@pytest.mark.parametrize("reason", ["contract", "legacy_opt_out"])
def test_locked_reads_on_and_refuses_changes_with_an_audit_row(db, api, reason):
    locked = make_org(plan="enterprise_usage", lock_reason=reason)
    po = primary_owner(locked)
    client = api(api_key_for(po))
    assert client.get(URL).json() == body(True, locked=True, lock_reason=reason, can_manage=False)
    response = client.post(URL, {"us_only": False}, format="json")
    assert response.status_code == 403
    assert "locked" in response.json()["error"]["message"]
    assert "Existing pricing terms continue" in response.json()["error"]["message"]
    locked.refresh_from_db()
    assert locked.us_only_inference is True
    denied = AuditEvent.objects.get(organization=locked, action="inference_residency.change_denied")
    assert denied.after == {"us_only": False, "denied": f"locked:{reason}"}
    # asking for what it already is changes nothing and is fine
    assert client.post(URL, {"us_only": True}, format="json").status_code == 200


@pytest.mark.parametrize("payload,message", [
    ({}, "us_only: This field is required."),
    ({"us_only": "yes"}, "us_only: Must be true or false (a JSON boolean)."),
    ({"us_only": 1}, "us_only: Must be true or false (a JSON boolean)."),
    ({"us_only": None}, "us_only: This field may not be null."),
])
def test_bad_bodies_are_400_saying_what_to_fix(api, owner, key_for, payload, message):
    response = api(key_for(owner)).post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message, "details": None}


def test_bad_body_from_privacy_none_is_still_404(api, org, key_for):
    member = add_member(org, "privacy_none")
    assert api(key_for(member)).post(URL, {"us_only": "yes"}, format="json").status_code == 404


def test_not_json_is_400(api, owner, key_for):
    response = api(key_for(owner)).post(URL, "us_only=true", content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 415)
    assert response.json()["type"] == "error"


def test_a_change_is_seen_by_the_very_next_request(api, owner, org, key_for):
    """No per-process cache: a service write (console, admin, another process) shows at once."""
    client = api(key_for(owner))
    assert client.get(URL).json()["us_only"] is False
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=Organization.objects.get(pk=org.pk),
                                     us_only=True)
    assert client.get(URL).json()["us_only"] is True


def test_a_role_change_takes_effect_on_the_next_request(api, owner, org, key_for):
    viewer = add_member(org, "privacy_view")
    manager_role = add_member(org, "privacy_manage").role
    client = api(key_for(viewer))
    assert client.post(URL, {"us_only": True}, format="json").status_code == 403
    services.member_change_role(actor=actor_for(owner.user), membership=viewer, role_id=manager_role.pk)
    assert client.post(URL, {"us_only": True}, format="json").status_code == 200
    services.member_change_role(actor=actor_for(owner.user), membership=viewer, role_id="user")
    assert client.get(URL).status_code == 404


def test_session_post_needs_csrf(owner):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"us_only": True}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


@pytest.mark.parametrize("extra", [0, 199])
def test_get_query_count_is_pinned(api, owner, org, key_for, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "user")
    client = api(key_for(owner))
    client.get(URL)
    with django_assert_num_queries(3):
        assert client.get(URL).status_code == 200
