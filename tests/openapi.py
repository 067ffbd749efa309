"""Checking JSON against the served OpenAPI document (3.0: `nullable`, `#/components/...` refs)."""

import jsonschema


def to_json_schema(node):
    """OpenAPI 3.0 schema objects → JSON Schema: `nullable: true` becomes `anyOf [..., null]`."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if key not in ("nullable", "example")}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Document:
    def __init__(self, document):
        self.document = document
        self.components = to_json_schema(document["components"])

    def validator(self, schema):
        return jsonschema.Draft7Validator({"allOf": [to_json_schema(schema)], "components": self.components})

    def errors(self, value, schema):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.validator(schema).iter_errors(value)]

    def operation(self, method, path):
        return self.document["paths"][path][method.lower()]

    def check_response(self, method, path, response):
        """What in `response` the document does not say for this operation (a list of problems)."""
        operation = self.operation(method, path)
        code = str(response.status_code)
        if code not in operation["responses"]:
            return [f"{method} {path}: status {code} is not documented ({sorted(operation['responses'])})"]
        documented = operation["responses"][code]
        problems = [f"{method} {path} {code}: header {name} missing" for name, header in
                    documented.get("headers", {}).items() if header.get("required") and name not in response]
        media_type = response["Content-Type"].split(";")[0]
        content = documented.get("content", {})
        if media_type not in content:
            return [*problems, f"{method} {path} {code}: content type {media_type} is not documented"]
        if media_type == "application/json":
            body = response.json()
            problems += [f"{method} {path} {code}: {error}" for error in self.errors(body, content[media_type]["schema"])]
        return problems


def served_document():
    """The OpenAPI document as /v1/openapi.json serves it (docs/openapi.json is held equal to it)."""
    import json

    from django.test import Client

    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(document):
    """{operationId: (METHOD, path)} of every operation in `document`."""
    return {operation["operationId"]: (method.upper(), path) for path, item in document["paths"].items()
            for method, operation in item.items() if isinstance(operation, dict) and "operationId" in operation}
