"""The OpenAPI document lists this API, generates without warnings, and the docs work offline."""

import pytest
from django.core.management import call_command

PATHS = {
    "/v1/organizations/me": {"get"},
    "/v1/organizations/inference_residency": {"get", "post"},
    "/v1/organizations/users": {"get", "post"},
    "/v1/organizations/users/{user_id}": {"get", "post"},
    "/v1/organizations/roles": {"get", "post"},
    "/v1/organizations/api_keys": {"get", "post"},
    "/v1/organizations/api_keys/{key_id}/revoke": {"post"},
}


@pytest.fixture
def schema(client, db):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_schema_lists_the_organization_paths(schema):
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_schema_describes_bodies_lists_and_errors(schema):
    residency = schema["paths"]["/v1/organizations/inference_residency"]
    post = residency["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/InferenceResidencyUpdate")
    assert {"200", "400", "403", "404"} <= set(post["responses"])
    out = schema["components"]["schemas"]["InferenceResidency"]["properties"]
    assert set(out) == {"type", "us_only", "locked", "lock_reason", "can_manage"}
    users = schema["paths"]["/v1/organizations/users"]["get"]
    assert {p["name"] for p in users["parameters"]} >= {"limit", "after_id", "before_id"}
    listing = schema["components"]["schemas"]["UserList"]["properties"]
    assert set(listing) == {"data", "has_more", "first_id", "last_id"}
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert {"ApiKeyAuth": []} in users["security"]


def test_operation_ids_are_unique(schema):
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values() if "operationId" in op]
    assert len(ids) == len(set(ids))


def test_schema_generation_has_no_warnings(db, tmp_path):
    # --fail-on-warn turns any drf-spectacular warning (unresolvable serializer, name clash,
    # unknown authenticator) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_docs_are_served_without_internet(client, db):
    response = client.get("/v1/docs/swagger")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "https://" not in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
