"""`/v1/docs`: the API reference, server-rendered from the OpenAPI document (issue 13)."""

import json

import pytest

from residency.models import CatalogModel


def csp(response):
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip())


@pytest.mark.django_db
def test_every_operation_of_the_document_is_on_the_reference(client):
    document = client.get("/v1/openapi.json").json()
    html = client.get("/v1/docs").content.decode()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post"):
                assert f'id="{operation["operationId"]}"' in html, (method, path)
                assert f'<span class="path">{path}</span>' in html
    for model in CatalogModel.objects.all():
        assert f"<code>{model.id}</code>" in html
    assert 'id="models"' in html


@pytest.mark.django_db
def test_the_reference_needs_no_script_and_no_inline_style(client):
    response = client.get("/v1/docs")
    policy = csp(response)
    assert "unsafe-inline" not in policy.get("style-src", "") and "unsafe-inline" not in policy.get("script-src", "")
    html = response.content.decode()
    assert "<style" not in html and " style=" not in html and '<html lang="en">' in html
    assert 'href="/v1/docs/swagger"' in html and 'href="/v1/openapi.json"' in html


@pytest.mark.django_db
def test_the_openapi_text_cites_nothing_api_users_do_not_have(client):
    text = json.dumps(client.get("/v1/openapi.json").json(), ensure_ascii=False)
    assert "SPEC" not in text and "§" not in text
    assert "manage.py" not in text
