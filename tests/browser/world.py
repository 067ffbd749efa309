"""A populated console for browser tests: three organizations and the seven kinds of person the
console serves (issue 13), each with real data on every page: workspaces (one archived), members
in every role, a custom role, API keys (one revoked), two weeks of usage in three geos, and audit
events including a refused attempt, a data residency policy that a workspace is outside of, and a change waiting for approval.
Built through the services, like real data."""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied

from orgs import services
from residency import services as residency_services
from residency.demo import seed_demo_usage
from tests.factories import UserFactory, actor_for, add_member, make_org, primary_owner

# the kinds of person (issue 13), in the order the sweep visits them
PERSONAS = ("primary_owner", "owner", "privacy_view", "privacy_none", "team_owner", "locked_owner", "auditor")


@dataclass
class World:
    acme: object
    team: object
    locked: object
    people: dict = field(default_factory=dict)  # persona -> Membership (in the organization they act in)
    ids: dict = field(default_factory=dict)  # organization id -> {url parameter: a value to visit}

    def membership(self, persona):
        return self.people[persona]

    def ids_for(self, persona):
        return self.ids[self.people[persona].organization_id]


def _populate(org, owner, *, extra_members=()):
    """Workspaces, members, a custom role where the plan has them, keys; returns the ids to visit."""
    actor = actor_for(owner.user)
    prod = residency_services.workspace_create(actor=actor, organization=org, name="Production")
    residency_services.workspace_create(actor=actor, organization=org, name="Research lab",
                                        data_residency={"allowed_inference_geos": ["us"],
                                                        "default_inference_geo": "us"})
    old = residency_services.workspace_create(actor=actor, organization=org, name="Old experiments")
    residency_services.workspace_archive(actor=actor, workspace=old)
    member = add_member(org, "user")
    for m in extra_members:
        add_member(org, m)
    role = None
    if org.is_enterprise:
        role = services.role_create(actor=actor, organization=org, name="Compliance reviewer",
                                    permissions={"audit_log": "view", "privacy": "view", "billing": "view"})
    key, _ = services.api_key_create(actor=actor, organization=org, name="Provisioning script")
    spare, _ = services.api_key_create(actor=actor, organization=org, name="Old CI key")
    services.api_key_revoke(actor=actor, api_key=spare)
    services.api_key_create(actor=actor_for(member.user), organization=org, name="Notebook",
                            membership=member)
    residency_services.workspace_admin_set(actor=actor, workspace=prod, membership=member, admin=True)
    seed_demo_usage(actor=actor, organization=org)
    ids = {"workspace_id": prod.pk, "user_id": member.user_id, "key_id": key.pk}
    if role is not None:
        ids["role_id"] = role.pk
    return ids


def build_world():
    acme = make_org(plan="enterprise_usage", name="Acme Research")
    team = make_org(plan="team", name="Team Co")
    locked = make_org(plan="enterprise_usage", name="Borealis Health", lock_reason="contract")
    world = World(acme=acme, team=team, locked=locked)
    acme_owner = primary_owner(acme)
    world.people["primary_owner"] = acme_owner
    # the owner belongs to two organizations, so the organization switcher is on their pages
    owner = add_member(acme, "owner", email="owner@acme.test")
    world.people["owner"] = owner
    world.people["privacy_view"] = add_member(acme, "privacy_view", email="viewer@acme.test")
    world.people["privacy_none"] = add_member(acme, "privacy_none", email="billing@acme.test")
    world.people["auditor"] = add_member(acme, "auditor", email="auditor@acme.test")
    world.people["team_owner"] = primary_owner(team)
    world.people["locked_owner"] = primary_owner(locked)
    world.ids[acme.pk] = _populate(acme, acme_owner, extra_members=("admin",))
    world.ids[team.pk] = _populate(team, primary_owner(team))
    world.ids[locked.pk] = _populate(locked, primary_owner(locked))
    services.member_add(actor=actor_for(primary_owner(team).user), organization=team,
                        email=owner.user.email, role_id="user")
    # the log holds changes and a refused attempt (a viewer tried to turn US-only on)
    residency_services.inference_residency_set(actor=actor_for(acme_owner.user), organization=acme, us_only=True)
    try:
        residency_services.inference_residency_set(actor=actor_for(world.people["privacy_view"].user),
                                                   organization=acme, us_only=False)
    except PermissionDenied:
        pass
    # Acme's data residency policy keeps API inference in the US, and leaves Production (unrestricted)
    # outside it: the policy page and the Overview list it
    residency_services.data_residency_policy_set(
        actor=actor_for(acme_owner.user), organization=acme,
        values={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    # Acme asks for approval of loosening changes, and the owner's turning US-only off waits for it:
    # a pending change request on Change requests, and banners on Overview and Data residency
    residency_services.approval_settings_set(actor=actor_for(acme_owner.user), organization=acme,
                                             loosening_requires_approval=True)
    pending = residency_services.inference_residency_set(actor=actor_for(owner.user), organization=acme, us_only=False)
    world.ids[acme.pk].update(change_request_id=pending.pk, action="approve")
    # the owner acts in Acme (their newest organization would otherwise be Team Co)
    owner.user.last_organization_id = acme.pk
    owner.user.save(update_fields=["last_organization_id"])
    return world


def new_person(email):
    return UserFactory(email=email)
