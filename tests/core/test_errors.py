import pytest


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404_with_request_id(client):
    response = client.get("/v1/nope")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "/v1/nope" in body["error"]["message"]
    assert body["request_id"] == response["request-id"]
    assert response["request-id"].startswith("req_")


@pytest.mark.django_db
def test_missing_key_is_401_authentication_error(api):
    response = api().get("/v1/organizations/me")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "x-api-key" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_bad_key_is_401(api):
    response = api("rc-api-wrong").get("/v1/organizations/me")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_wrong_method_is_a_json_405(api, owner, key_for):
    response = api(key_for(owner)).delete("/v1/organizations/me")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response["request-id"] == response.json()["request_id"]


def test_console_pages_carry_request_id_too(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert response["request-id"].startswith("req_")


def test_organization_me_for_a_key(api, org, owner, key_for):
    response = api(key_for(owner)).get("/v1/organizations/me")
    assert response.status_code == 200
    assert response.json() == {"id": org.id, "type": "organization", "name": "Acme", "plan": "enterprise_usage"}
