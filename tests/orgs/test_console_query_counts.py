"""Every remaining console page keeps a constant query count, at 1 and at 200 members."""

import pytest

from orgs.models import ApiKey
from tests.factories import add_member, api_key_for

PAGES = {
    "member_remove": (lambda t: f"/members/{t['member'].user_id}/remove/", 7),
    "member_transfer": (lambda t: f"/members/{t['member'].user_id}/transfer/", 6),
    "role_edit": (lambda t: f"/roles/{t['member'].role_id}/", 6),
    "api_key_revoke": (lambda t: f"/api-keys/{t['key'].pk}/revoke/", 6),
}


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("extra", [0, 199])
def test_query_count_is_pinned(console, owner, org, django_assert_num_queries, name, extra):
    for _ in range(extra):
        add_member(org, "privacy_view")
    member = add_member(org, "privacy_view")
    api_key_for(member, name="theirs")
    targets = {"member": member, "key": ApiKey.objects.get(name="theirs")}
    url, count = PAGES[name]
    client = console(owner.user)
    client.get("/")
    with django_assert_num_queries(count):
        assert client.get(url(targets)).status_code == 200
