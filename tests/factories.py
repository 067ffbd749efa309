"""Test data built through the services, so every fixture is audited like real data."""

import factory

from core.actor import Actor
from orgs import services
from orgs.models import Membership, Organization, User
from residency import services as residency_services

PASSWORD = "correct-horse-battery"
AREAS_OF = {
    # shorthand for the custom roles the role matrix uses
    "privacy_manage": {"privacy": "manage"},
    "privacy_view": {"privacy": "view"},
    "privacy_none": {"billing": "view"},
    "auditor": {"audit_log": "view"},
    "identity_manage": {"identity_access": "manage"},
}
SYSTEM = Actor.system("tests")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    first_name = factory.Sequence(lambda n: f"Person{n}")
    last_name = "Tester"

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or PASSWORD)
        if create:
            user.save(update_fields=["password"])


def actor_for(user, source="console"):
    return Actor(user=user, source=source, ip="127.0.0.1", user_agent="pytest")


def make_org(*, plan="enterprise_usage", name=None, lock_reason=None, legacy_opt_out=False, owner_email=None):
    """An organization with a primary owner (password PASSWORD); returns the Organization."""
    n = Organization.objects.count() + 1
    owner = UserFactory(email=owner_email) if owner_email else UserFactory()
    org, _ = residency_services.organization_provision(
        actor=SYSTEM, name=name or f"Org {n}", plan=plan, owner_email=owner.email,
        lock_reason=lock_reason, legacy_opt_out=legacy_opt_out,
    )
    return org


def primary_owner(org):
    return Membership.objects.select_related("user", "role").get(organization=org, role_id="primary_owner")


def add_member(org, role="user", *, email=None):
    """Add a member with a built-in role id, a custom role id, or a shorthand from AREAS_OF."""
    owner = primary_owner(org).user
    role_id = role
    if role in AREAS_OF:
        from orgs.models import Role

        existing = Role.objects.filter(organization=org, name=role).first()
        role_id = existing.pk if existing else services.role_create(
            actor=actor_for(owner), organization=org, name=role, permissions=AREAS_OF[role]
        ).pk
    user = UserFactory(email=email) if email else UserFactory()
    if role == "primary_owner":
        return primary_owner(org)
    return services.member_add(actor=actor_for(owner), organization=org, email=user.email, role_id=role_id)


def api_key_for(membership, name="test key"):
    _, secret = services.api_key_create(
        actor=actor_for(membership.user), organization=membership.organization, name=name
    )
    return secret
