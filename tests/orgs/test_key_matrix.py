"""Keys never outrank their maker (SPEC §3, API keys row): who may mint keys for whom, what a key
someone else minted may do, and the primary-owner transfer, over REST and in the console."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from orgs import services
from orgs.models import ApiKey, Membership, hash_api_key
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner

pytestmark = pytest.mark.django_db

LEAD = {"identity_access": "manage", "user_management": "manage", "privacy": "view"}
SUBSET = {"privacy": "view"}  # strictly below LEAD

# creator -> {target: may mint a key for them}. Written out by hand (not computed by the rule under
# test): the primary owner outranks everyone; owners are equal to each other; admin and user have no
# Identity & access: manage; the custom "lead" is equal to its twin and above admin, user, subset.
CAN_MINT = {
    "primary_owner": {"primary_owner": "self", "owner": True, "admin": True, "user": True, "lead": True,
                      "lead_twin": True, "subset": True},
    "owner": {"primary_owner": False, "owner": "self", "owner_2": False, "admin": True, "user": True, "lead": True,
              "lead_twin": True, "subset": True},
    "admin": {"primary_owner": False, "owner": False, "admin": "self", "user": False, "lead": False,
              "lead_twin": False, "subset": False},
    "user": {"primary_owner": False, "owner": False, "admin": False, "user": "self", "lead": False,
             "lead_twin": False, "subset": False},
    "lead": {"primary_owner": False, "owner": False, "admin": True, "user": True, "lead": "self", "lead_twin": False,
             "subset": True},
}


@pytest.fixture
def people(org, owner):
    lead_role = services.role_create(actor=actor_for(owner.user), organization=org, name="Identity lead",
                                     permissions=LEAD)
    twin_role = services.role_create(actor=actor_for(owner.user), organization=org, name="Identity lead twin",
                                     permissions=LEAD)
    subset_role = services.role_create(actor=actor_for(owner.user), organization=org, name="Privacy viewer",
                                       permissions=SUBSET)
    people = {"primary_owner": owner}
    for who, role in (("owner", "owner"), ("owner_2", "owner"), ("admin", "admin"), ("user", "user"),
                      ("lead", lead_role.pk), ("lead_twin", twin_role.pk), ("subset", subset_role.pk)):
        people[who] = add_member(org, role)
    return people


def _keys_for(membership):
    return ApiKey.objects.filter(membership=membership).count()


@pytest.mark.parametrize("creator", sorted(CAN_MINT))
def test_who_may_mint_keys_for_whom_over_rest(people, org, creator):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(people[creator], name="own"))
    for target, allowed in CAN_MINT[creator].items():
        member = people[creator] if allowed == "self" else people[target]
        before = _keys_for(member)
        response = client.post("/v1/organizations/api_keys", {"name": f"for {target}", "user_id": member.user_id},
                               format="json")
        if allowed:
            assert response.status_code == 200, (creator, target, response.content)
            assert response.json()["user_id"] == member.user_id
            event = AuditEvent.objects.filter(organization=org, action="api_key.created").order_by("-seq").first()
            assert event.after["user_id"] == member.user_id and event.actor_user_id == people[creator].user_id
        else:
            assert response.status_code == 403, (creator, target, response.content)
            assert response.json()["error"]["type"] == "permission_error"
            assert _keys_for(member) == before


@pytest.mark.parametrize("creator", sorted(CAN_MINT))
def test_who_may_mint_keys_for_whom_in_the_console(people, creator):
    client = Client()
    client.force_login(people[creator].user)
    for target, allowed in CAN_MINT[creator].items():
        member = people[creator] if allowed == "self" else people[target]
        before = _keys_for(member)
        response = client.post("/api-keys/", {"name": f"for {target}", "user_id": member.user_id})
        if allowed:
            assert response.status_code == 200 and "rc-api-" in response.content.decode(), (creator, target)
            assert _keys_for(member) == before + 1
        else:
            # without Identity & access: manage there is no owner choice (the key would be their own);
            # with it, only members strictly below are offered, and any other is refused
            assert _keys_for(member) == before, (creator, target)
            if creator in ("owner", "lead"):
                assert response.status_code in (400, 403) or "Select a valid choice" in response.content.decode()
                assert "console/api_keys/created.html" not in [t.name for t in response.templates]
                offered = client.get("/api-keys/").content.decode()
                assert f'value="{member.user_id}"' not in offered, (creator, target)


def test_a_key_someone_else_minted_acts_with_at_most_its_creators_current_access(people, org, api):
    lead, admin = people["lead"], people["admin"]
    _, secret = services.api_key_create(actor=actor_for(lead.user), organization=org, name="for admin",
                                        membership=admin)
    client = api(secret)
    # admin's own level is user_management: manage, and so is the lead's: members can be added
    assert client.post("/v1/organizations/users", {"email": "one@acme.test", "role": "user"},
                       format="json").status_code == 200
    # the lead is demoted to user: the key they minted can no longer do what they cannot
    services.member_change_role(actor=actor_for(people["primary_owner"].user), membership=lead, role_id="user")
    refused = client.post("/v1/organizations/users", {"email": "two@acme.test", "role": "user"}, format="json")
    assert refused.status_code == 403 and "API key" in refused.json()["error"]["message"]
    assert not Membership.objects.filter(user__email="two@acme.test").exists()
    # the key's holder cannot launder it into a stronger one: a key made with it carries the lead
    made = client.post("/v1/organizations/api_keys", {"name": "self"}, format="json")
    assert made.status_code == 200
    assert ApiKey.objects.get(pk=made.json()["id"]).created_by_id == lead.user_id
    assert api(made.json()["key"]).post("/v1/organizations/users", {"email": "three@acme.test", "role": "user"},
                                        format="json").status_code == 403


def test_events_done_with_a_key_record_and_show_the_key_and_its_creator(people, org, api, console):
    lead, admin = people["lead"], people["admin"]
    key, secret = services.api_key_create(actor=actor_for(lead.user), organization=org, name="Provisioner",
                                          membership=admin)
    assert api(secret).post("/v1/organizations/users", {"email": "via-key@acme.test", "role": "user"},
                            format="json").status_code == 200
    event = AuditEvent.objects.get(organization=org, action="member.added", after__email="via-key@acme.test")
    assert (event.actor_type, event.actor_id, event.actor_user_id) == ("api_key", key.pk, admin.user_id)
    assert (event.actor_key_creator_id, event.actor_key_creator_label) == (lead.user_id, lead.user.display_name)
    page = console(people["primary_owner"].user).get("/audit-log/").content.decode()
    rows = page[page.index("<tbody"):]
    at = rows.index("via-key@acme.test")
    row = rows[rows.rindex("<tr", 0, at):rows.index("</tr>", at)]
    assert "API key Provisioner" in row and f"key created by {lead.user.display_name}" in row
    exported = api(api_key_for(people["primary_owner"])).get("/v1/organizations/audit_events?format=csv")
    text = b"".join(exported.streaming_content).decode() if exported.streaming else exported.content.decode()
    assert lead.user_id in text and "Provisioner" in text


# --- the primary-owner transfer ------------------------------------------------------------------


def _legacy_key(membership, created_by, name="legacy"):
    """A key someone else minted for `membership` before the rule existed (the issue's exploit)."""
    secret = f"rc-api-legacy{name}{membership.pk}"[:60]
    ApiKey.objects.create(membership=membership, name=name, key_hash=hash_api_key(secret), key_hint=secret[-4:],
                          created_by=created_by)
    return secret


def _primary(org):
    return Membership.objects.get(organization=org, role_id="primary_owner").user_id


@pytest.mark.parametrize("who", ["owner", "admin", "user", "lead", "subset", "legacy_key_of_the_primary_owner"])
def test_the_transfer_is_refused_over_rest_for_everyone_but_the_primary_owner(people, org, who):
    po = people["primary_owner"]
    if who == "legacy_key_of_the_primary_owner":
        secret = _legacy_key(po, created_by=people["owner"].user)  # an owner minted it for the primary owner
    else:
        secret = api_key_for(people[who])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    target = people["owner"]
    response = client.post(f"/v1/organizations/users/{target.user_id}", {"role": "primary_owner"}, format="json")
    assert response.status_code in (403, 404), response.content
    if who in ("owner", "legacy_key_of_the_primary_owner", "lead", "admin"):
        assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"
    assert _primary(org) == po.user_id
    assert not AuditEvent.objects.filter(organization=org, action="primary_owner.transferred").exists()


def test_the_primary_owners_own_key_transfers_the_title(people, org):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(people["primary_owner"]))
    target = people["owner"]
    response = client.post(f"/v1/organizations/users/{target.user_id}", {"role": "primary_owner"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "primary_owner"
    assert _primary(org) == target.user_id
    event = AuditEvent.objects.get(organization=org, action="primary_owner.transferred")
    assert event.actor_user_id == people["primary_owner"].user_id
    assert event.actor_key_creator_id == people["primary_owner"].user_id


def test_a_bootstrap_key_acts_as_the_primary_owner(db):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("bootstrap_org", "--name", "Boot", "--plan", "enterprise_usage", "--owner-email", "boot@boot.test",
                 "--json", stdout=out)
    body = json.loads(out.getvalue())
    org = Membership.objects.get(user_id=body["owner_user_id"]).organization
    heir = add_member(org, "owner")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=body["api_key"])
    assert client.post(f"/v1/organizations/users/{heir.user_id}", {"role": "primary_owner"},
                       format="json").status_code == 200


@pytest.mark.parametrize("who", ["owner", "admin", "user", "lead", "subset"])
def test_the_transfer_is_refused_in_the_console_for_everyone_but_the_primary_owner(people, org, who):
    client = Client()
    client.force_login(people[who].user)
    target = people["owner_2"]
    response = client.post(f"/members/{target.user_id}/transfer/")
    assert response.status_code in (403, 404)
    assert _primary(org) == people["primary_owner"].user_id
    # the role form cannot do it either
    client.post(f"/members/{target.user_id}/", {"role": "primary_owner"})
    assert _primary(org) == people["primary_owner"].user_id


def test_the_primary_owner_transfers_in_the_console(people, org):
    client = Client()
    client.force_login(people["primary_owner"].user)
    response = client.post(f"/members/{people['owner_2'].user_id}/transfer/")
    assert response.status_code == 302
    assert _primary(org) == people["owner_2"].user_id


def test_no_key_for_the_primary_owner_even_from_another_organizations_angle(people, org):
    other = make_org(name="Elsewhere")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(primary_owner(other)))
    response = client.post("/v1/organizations/api_keys", {"name": "x", "user_id": people["primary_owner"].user_id},
                           format="json")
    assert response.status_code == 400  # not a member there: named as an unknown user, nothing made
    assert _keys_for(people["primary_owner"]) == 0
