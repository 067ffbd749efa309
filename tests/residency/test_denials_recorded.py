"""Refused residency changes are recorded in SPEC §2's order of checks, bounded (§7):
a 404 (step 1) is audited with a bounded summary of what was sent, since it is not validated
yet; invalid input (step 2) is a 400 that records nothing; a 403 (step 3) is audited with the
validated values, never the raw body."""

import pytest
from django.http import Http404

from audit.chain import verify_chain
from audit.models import AuditEvent
from residency import services as residency_services
from tests.factories import actor_for
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db
US_ONLY = "/v1/organizations/inference_residency"
WORKSPACES = "/v1/organizations/workspaces"


def newest(org):
    return AuditEvent.objects.filter(organization=org).latest("seq")


def count(org):
    return AuditEvent.objects.filter(organization=org).count()


def test_privacy_none_is_a_404_audited_even_with_invalid_input(org, member_factory, key_for, api):
    client = api(key_for(member_factory(org, "privacy_none")))
    for body, recorded in (({"us_only": "yes"}, "yes"), ({"us_only": True, "extra": 1}, True),
                           ({"us_only": {"a": [1, 2]}}, {"a": [1, 2]})):
        response = client.post(US_ONLY, body, format="json")
        assert response.status_code == 404
        event = newest(org)
        assert (event.action, event.outcome) == ("inference_residency.change_denied", "denied")
        assert event.after == {"us_only": recorded, "denied": "permission"}
    assert verify_chain(org).ok


def test_privacy_view_invalid_input_is_a_400_that_records_nothing(org, member_factory, key_for, api):
    client = api(key_for(member_factory(org, "privacy_view")))
    before = count(org)
    for body in ({"us_only": "yes"}, {"us_only": None}, {"us_only": 1}, {}):
        assert client.post(US_ONLY, body, format="json").status_code == 400
    assert count(org) == before
    assert client.post(US_ONLY, {"us_only": True}, format="json").status_code == 403
    assert newest(org).after == {"us_only": True, "denied": "permission"}


def test_the_service_itself_keeps_the_order_and_the_bound(org, member_factory):
    hidden = actor_for(member_factory(org, "privacy_none").user)
    with pytest.raises(Http404):
        residency_services.inference_residency_set(actor=hidden, organization=org, us_only={"k": "x" * 100_000})
    summary = newest(org).after["us_only"]
    assert summary["bytes"] == 100_008 and set(summary) == {"omitted", "bytes", "sha256", "preview"}


def test_workspace_create_validates_before_it_records_a_403(org, member_factory, key_for, api):
    client = api(key_for(member_factory(org, "privacy_view")))
    before = count(org)
    for body in ({"name": ""}, {"name": "x" * 201}, {"name": "x", "data_residency": {"allowed_inference_geos": ["mars"]}},
                 {"name": "x", "data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "global"}}):
        assert client.post(WORKSPACES, body, format="json").status_code == 400, body
    assert count(org) == before
    response = client.post(WORKSPACES, {"name": "  Sandbox ", "data_residency": {"allowed_inference_geos": ["us"],
                                                                                  "default_inference_geo": "us"}},
                           format="json")
    assert response.status_code == 403
    event = newest(org)
    assert (event.action, event.target_label) == ("workspace.residency_change_denied", "Sandbox")
    assert event.after == {"name": "Sandbox", "data_residency": {"allowed_inference_geos": ["us"],
                                                                 "default_inference_geo": "us"}}


def test_workspace_update_validates_before_it_records_a_403(org, owner, member_factory, key_for, api):
    ws = workspace(org, "Prod")
    viewer = api(key_for(member_factory(org, "privacy_view")))
    delegate = member_factory(org, "user")
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=delegate, admin=True)
    admin = api(key_for(delegate))
    url = f"{WORKSPACES}/{ws.pk}"
    before = count(org)
    assert viewer.post(url, {"data_residency": {"workspace_geo": "us"}}, format="json").status_code == 400
    assert viewer.post(url, {"name": "y" * 500}, format="json").status_code == 400
    assert admin.post(url, {"name": "y" * 500}, format="json").status_code == 400
    assert count(org) == before
    assert viewer.post(url, {"data_residency": {"default_inference_geo": "us"}}, format="json").status_code == 403
    assert newest(org).after == {"name": None, "data_residency": {"default_inference_geo": "us"}}
    assert admin.post(url, {"name": " Renamed "}, format="json").status_code == 403
    assert newest(org).after == {"name": "Renamed", "data_residency": None}
    assert verify_chain(org).ok
