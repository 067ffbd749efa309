"""Deep links across a person's organizations (issue 13): with one organization active, a link to
an object of another organization they belong to offers to switch, instead of a bare 404; nobody
learns anything about an organization they are not in, or an object their role there hides."""

import pytest
from django.urls import reverse

from orgs import services
from residency import services as residency_services
from tests.factories import actor_for, add_member, make_org, primary_owner


@pytest.fixture
def two(db):
    acme, team = make_org(name="Acme"), make_org(plan="team", name="Team Co")
    owner = primary_owner(acme)
    prod = residency_services.workspace_create(actor=actor_for(owner.user), organization=acme, name="Prod")
    key, _ = services.api_key_create(actor=actor_for(owner.user), organization=acme, name="ci")
    return acme, team, owner, prod, key


def acting_in(client, user, org):
    client.force_login(user)
    session = client.session
    session["organization_id"] = org.pk
    session.save()
    return client


def test_a_link_into_the_other_organization_offers_to_switch(client, two):
    acme, team, owner, prod, key = two
    services.member_add(actor=actor_for(primary_owner(team).user), organization=team, email=owner.user.email,
                        role_id="user")
    acting_in(client, owner.user, team)
    url = reverse("console:workspace_detail", kwargs={"workspace_id": prod.pk})
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 404
    assert "This is in Acme" in html and "The link opens a workspace of <strong>Acme</strong>" in html
    assert f'name="next" value="{url}"' in html and f'value="{acme.pk}"' in html
    # switching takes them to the page the link named
    switched = client.post(reverse("console:switch_organization"), {"organization_id": acme.pk, "next": url})
    assert switched.status_code == 302 and switched["Location"] == url
    assert client.get(url).status_code == 200
    for name, kwargs in [("api_key_revoke", {"key_id": key.pk}),
                         ("member_detail", {"user_id": add_member(acme, "user").user_id})]:
        acting_in(client, owner.user, team)
        assert "This is in Acme" in client.get(reverse(f"console:{name}", kwargs=kwargs)).content.decode(), name


def test_nothing_is_offered_to_a_member_whose_role_there_would_not_show_it(client, two):
    acme, team, owner, prod, key = two
    plain = add_member(acme, "user")  # Privacy: No access in Acme
    services.member_add(actor=actor_for(primary_owner(team).user), organization=team, email=plain.user.email,
                        role_id="owner")
    acting_in(client, plain.user, team)
    for url in (reverse("console:workspace_detail", kwargs={"workspace_id": prod.pk}),
                reverse("console:api_key_revoke", kwargs={"key_id": key.pk})):
        response = client.get(url)
        assert response.status_code == 404
        html = response.content.decode()
        assert "This is in" not in html and "Prod" not in html and "Switch to Acme" not in html


def test_a_non_member_gets_the_plain_404(client, two):
    acme, team, owner, prod, key = two
    client.force_login(primary_owner(team).user)
    response = client.get(reverse("console:workspace_detail", kwargs={"workspace_id": prod.pk}))
    assert response.status_code == 404
    html = response.content.decode()
    assert "This is in" not in html and "Acme" not in html and "Prod" not in html


def test_switching_never_follows_a_next_off_the_site(client, two):
    acme, team, owner, prod, key = two
    services.member_add(actor=actor_for(primary_owner(team).user), organization=team, email=owner.user.email,
                        role_id="user")
    acting_in(client, owner.user, team)
    for bad in ("https://evil.test/", "//evil.test/x", "javascript:alert(1)"):
        response = client.post(reverse("console:switch_organization"), {"organization_id": acme.pk, "next": bad})
        assert response.status_code == 302 and response["Location"] == reverse("console:home"), bad
    # and it never switches into an organization the person is not in
    stranger = make_org(name="Stranger Inc")
    response = client.post(reverse("console:switch_organization"), {"organization_id": stranger.pk,
                                                                     "next": "/workspaces/"})
    assert response["Location"] == reverse("console:home") and client.session["organization_id"] == acme.pk
