"""Audit events read as sentences, for every registered action."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied

from audit.events import REGISTRY, change_summary, describe, generic
from audit.models import AuditEvent
from audit.selectors import audit_names
from core.actor import Actor
from orgs import services
from residency import services as residency_services
from tests.factories import UserFactory, actor_for, add_member
from tests.residency.helpers import workspace


def test_every_registered_event_type_reads_as_its_own_sentence():
    """The registry declares each event's sentence; none falls back to the generic form."""
    from types import SimpleNamespace

    for name in REGISTRY:
        event = SimpleNamespace(action=name, actor_label="Ana", target_label="Prod", target_type="workspace",
                                before={}, after={}, outcome="success")
        sentence = describe(event)
        assert sentence.startswith("Ana ") and sentence != generic(event), name


def _last(org):
    return AuditEvent.objects.filter(organization=org).order_by("-seq").first()


@pytest.mark.django_db
def test_us_only_toggle_reads_as_a_sentence(org, owner):
    owner.user.first_name, owner.user.last_name = "Ana", "Ruiz"
    owner.user.save()
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    assert describe(_last(org)) == "Ana Ruiz turned US-only inference on"


@pytest.mark.django_db
def test_workspace_change_through_an_api_key_names_the_key_and_the_change(org, owner):
    ws = workspace(org, "Prod")
    key, _secret = services.api_key_create(actor=actor_for(owner.user), organization=org, name="ci-bot")
    actor = Actor(user=owner.user, api_key=key, source="rest", ip="10.0.0.1")
    residency_services.workspace_update(actor=actor, workspace=ws,
                              data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    event = _last(org)
    assert describe(event) == ("API key ci-bot changed workspace Prod: allowed geos unrestricted → us; "
                               "default geo global → us")


@pytest.mark.django_db
def test_denied_attempt_and_role_names(org, owner, member_factory):
    viewer = member_factory(org, "privacy_view")
    viewer.user.first_name, viewer.user.last_name = "Victor", "Lee"
    viewer.user.save()
    with pytest.raises(PermissionDenied):
        residency_services.inference_residency_set(actor=actor_for(viewer.user), organization=org, us_only=True)
    assert describe(_last(org)) == ("Victor Lee tried to turn US-only inference on and was refused "
                                    "(needs Privacy: Can manage)")
    member = add_member(org, "user", email="uma@example.test")
    services.member_change_role(actor=actor_for(owner.user), membership=member, role_id=viewer.role_id)
    # custom role ids render as the role's name
    assert describe(_last(org), audit_names(org)).endswith(f"changed the role of {member.user}: User → privacy_view")


@pytest.mark.django_db
def test_every_action_written_by_the_services_renders_without_the_fallback(org, owner):
    actor = actor_for(owner.user)
    ws = workspace(org, "Prod")
    residency_services.workspace_update(actor=actor, workspace=ws, name="Production")
    residency_services.workspace_archive(actor=actor, workspace=ws)
    role = services.role_create(actor=actor, organization=org, name="Auditors", permissions={"audit_log": "view"})
    services.role_update(actor=actor, role=role, permissions={"privacy": "view"})
    m = services.member_add(actor=actor, organization=org, email=UserFactory().email, role_id="admin")
    services.member_change_role(actor=actor, membership=m, role_id="owner")
    ws2 = workspace(org, "Other")
    residency_services.workspace_admin_set(actor=actor, workspace=ws2, membership=m, admin=True)
    residency_services.workspace_admin_set(actor=actor, workspace=ws2, membership=m, admin=False)
    key, _ = services.api_key_create(actor=actor, organization=org, name="k")
    services.api_key_revoke(actor=actor, api_key=key)
    services.organization_rename(actor=actor, organization=org, name="Acme 2")
    services.primary_owner_transfer(actor=actor, organization=org, to_membership=m)
    services.member_remove(actor=actor_for(m.user), membership=owner)
    names = audit_names(org)
    sentences = {e.action: describe(e, names) for e in AuditEvent.objects.filter(organization=org).order_by("seq")}
    assert sentences["workspace.updated"].endswith("changed workspace Production: name Prod → Production")
    assert sentences["workspace.archived"].endswith("archived workspace Production")
    assert sentences["role.created"].endswith("created custom role Auditors (Audit log: Can view)")
    assert sentences["role.updated"].endswith("changed custom role Auditors: Privacy: No access → Can view")
    assert "as Admin" in sentences["member.added"]
    assert sentences["member.role_changed"].endswith("Admin → Owner")
    assert " admin of workspace Other" in sentences["workspace.admin_granted"]
    assert " as admin of workspace Other" in sentences["workspace.admin_revoked"]
    assert sentences["api_key.revoked"].endswith("revoked API key k")
    assert sentences["organization.updated"].endswith("changed organization Acme 2: name Acme → Acme 2")
    assert sentences["primary_owner.transferred"].endswith(f"transferred primary ownership to {m.user.email}")
    assert sentences["member.removed"].endswith(f"removed {owner.user.email} (Owner) from the organization")
    for action, text in sentences.items():
        assert ":" not in text.split(" ")[0], f"{action} fell back to the generic sentence: {text}"


def test_unknown_action_and_odd_shapes_fall_back_to_before_after():
    event = SimpleNamespace(action="future.thing", actor_label="Ana", target_type="widget", target_label="W1",
                            before={"size": 1}, after={"size": 2}, outcome="success")
    assert describe(event) == "Ana: future.thing (widget W1): size 1 → 2"
    odd = SimpleNamespace(action="workspace.updated", actor_label="Ana", target_type="workspace",
                          target_label="Prod", before=["x"], after="y", outcome="success")
    assert describe(odd) == "Ana changed workspace Prod"
    assert change_summary(SimpleNamespace(before={"a": None}, after={"a": True})) == "a none → on"


def test_plans_read_as_their_names_in_sentences(org):
    created = AuditEvent.objects.filter(organization=org, action="organization.created").get()
    sentence = describe(created, audit_names(org))
    assert "on the Enterprise (usage-based) plan" in sentence and "enterprise_usage" not in sentence
