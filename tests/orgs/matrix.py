"""The role matrix every page and endpoint is tested against (STYLE: Tests).

`build_people(org)` adds one member per role to `org` and makes the primary owner of a second
organization ("other_org"); "anonymous" is nobody. Console clients log in with the session,
API clients send that member's own key.
"""

from django.test import Client
from rest_framework.test import APIClient

from tests.factories import add_member, api_key_for, make_org, primary_owner

WHO = (
    "primary_owner", "owner", "admin", "user",
    "privacy_manage", "privacy_view", "privacy_none", "auditor",
    "other_org", "anonymous",
)


def build_people(org):
    people = {"primary_owner": primary_owner(org)}
    for who in ("owner", "admin", "user", "privacy_manage", "privacy_view", "privacy_none", "auditor"):
        people[who] = add_member(org, who)
    people["other_org"] = primary_owner(make_org(plan="enterprise_usage", name="Other Co"))
    people["anonymous"] = None
    return people


def console_client(people, who):
    client = Client()
    if people[who] is not None:
        client.force_login(people[who].user)
    return client


def api_client(people, who):
    client = APIClient()
    if people[who] is not None:
        client.credentials(HTTP_X_API_KEY=api_key_for(people[who], name=f"{who} key"))
    return client


def expect(default, **overrides):
    """A status per person: `default` unless overridden, e.g. expect(403, owner=200)."""
    unknown = set(overrides) - set(WHO)
    assert not unknown, unknown
    return [(who, overrides.get(who, default)) for who in WHO]
