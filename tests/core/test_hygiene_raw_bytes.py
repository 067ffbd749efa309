"""A lone surrogate can only travel in a URL or a form body as its UTF-8 style bytes
(`%ED%A0%80`), which Django would quietly turn into U+FFFD: core.hygiene refuses bytes that are
not UTF-8 in the path, the query string and a form body, like it refuses NUL."""

import pytest

from residency import services as residency_services
from tests.factories import actor_for

WORKSPACES = "/v1/organizations/workspaces"


@pytest.fixture
def owner_key(owner, key_for):
    return key_for(owner)


@pytest.mark.parametrize("url", [
    f"{WORKSPACES}?after_id=%ED%A0%80",
    f"{WORKSPACES}?%ED%B0%80=1",
    f"{WORKSPACES}?limit=1&before_id=a%C3",  # a cut-off character
    f"{WORKSPACES}/%ED%A0%80",
    f"{WORKSPACES}/%FF/archive",
])
def test_rest_refuses_bytes_that_are_not_utf8_after_the_key(api, owner_key, url):
    response = api(owner_key).get(url)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert "not UTF-8" in body["error"]["message"]
    assert api("rc-api-not-a-key").get(url).status_code == 401  # a bad key is still a 401 first


def test_rest_form_body_that_is_not_utf8_is_refused(api, owner_key, org):
    response = api(owner_key).post(WORKSPACES, "name=%ED%A0%80", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "Form field 'name'" in response.json()["error"]["message"]


def test_real_unicode_still_passes(api, owner_key, owner, org, console):
    residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Zürich")
    assert api(owner_key).get(f"{WORKSPACES}?after_id=%C3%A9t%C3%A9").status_code == 400  # unknown id, not bytes
    assert "not UTF-8" not in api(owner_key).get(f"{WORKSPACES}?after_id=%C3%A9t%C3%A9").json()["error"]["message"]
    client = console(owner.user)
    assert client.get("/workspaces/?show=%C3%A9").status_code == 200
    response = client.post("/workspaces/new/", "name=Gen%C3%A8ve&workspace_geo=us",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
