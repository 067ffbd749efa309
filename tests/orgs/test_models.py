"""Invariants the database itself holds, even against code that skips the services."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from orgs.models import Membership, Organization, Role
from tests.factories import UserFactory, make_org


@pytest.mark.django_db
def test_database_refuses_a_second_primary_owner():
    org = make_org()
    other = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=other, organization=org, role_id="primary_owner")


@pytest.mark.django_db
def test_database_refuses_a_lock_without_us_only():
    org = make_org()
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=org.pk).update(lock_reason="contract", us_only_inference=False)


@pytest.mark.django_db
def test_database_refuses_an_unknown_plan():
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.create(name="X", plan="free")


@pytest.mark.django_db
@pytest.mark.parametrize("area,level", [("privacy", "admin"), ("audit_log", "manage")])
def test_database_refuses_bad_role_levels(area, level):
    org = make_org()
    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(organization=org, name="Bad", **{area: level})


@pytest.mark.django_db
def test_one_membership_per_user_and_organization():
    org = make_org()
    owner = Membership.objects.get(organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=owner.user, organization=org, role_id="user")


@pytest.mark.django_db
def test_builtin_roles_are_seeded_with_the_spec_levels():
    roles = {r.pk: r for r in Role.objects.filter(builtin=True)}
    assert set(roles) == {"primary_owner", "owner", "admin", "user"}
    for rid in ("primary_owner", "owner"):
        perms = roles[rid].permissions
        assert perms.pop("audit_log") == "view"
        assert set(perms.values()) == {"manage"}
    assert roles["admin"].permissions == {
        "identity_access": "none", "billing": "none", "analytics": "none", "privacy": "none",
        "user_management": "manage", "libraries": "none", "audit_log": "none",
    }
    assert set(roles["user"].permissions.values()) == {"none"}


@pytest.mark.django_db
def test_catalog_and_geos_are_seeded_as_data():
    from residency.models import CatalogModel, Geo

    assert set(Geo.objects.filter(inference=True).values_list("code", flat=True)) == {"global", "us"}
    assert list(Geo.objects.filter(workspace=True).values_list("code", flat=True)) == ["us"]
    opus = CatalogModel.objects.get(pk="claude-opus-4-6")
    prices = (opus.input_price, opus.cache_write_5m_price, opus.output_price)
    assert prices == (Decimal("5"), Decimal("6.25"), Decimal("25"))
    assert opus.supports_inference_geo
    assert not CatalogModel.objects.get(pk="claude-haiku-4-5").supports_inference_geo
    assert CatalogModel.objects.count() >= 6
