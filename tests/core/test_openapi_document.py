"""docs/openapi.json is the document the code generates (`python manage.py openapi_document`), and
`--check` (scripts/test.sh) fails when it is stale, naming what changed and the command to run."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.management.commands import openapi_document

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, settings):
    """A copy of the checked-in document in a stand-in project folder."""
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "openapi.json", tmp_path / "docs" / "openapi.json")
    settings.BASE_DIR = tmp_path
    return tmp_path / "docs" / "openapi.json"


def test_the_checked_in_document_is_current(project, capsys):
    call_command("openapi_document", "--check")
    assert "docs/openapi.json is up to date." in capsys.readouterr().out


def test_a_stale_document_fails_the_check_saying_what_changed_and_how_to_regenerate(project):
    document = json.loads(project.read_text())
    document["components"]["schemas"]["Workspace"]["description"] = "an older text"
    document["components"]["schemas"]["Gone"] = {"type": "string"}
    del document["paths"]["/v1/organizations/me"]
    project.write_text(json.dumps(document))
    with pytest.raises(CommandError) as failure:
        call_command("openapi_document", "--check")
    message = str(failure.value)
    assert "docs/openapi.json is stale" in message
    assert "~ component Workspace (changed)" in message and "- component Gone (removed)" in message
    assert "+ path /v1/organizations/me (added)" in message
    assert "Run `python manage.py openapi_document`" in message


def test_the_command_writes_the_document_byte_for_byte_the_same_each_time(project, capsys):
    project.write_text("{}")
    call_command("openapi_document")
    written = project.read_bytes()
    assert written == (ROOT / "docs" / "openapi.json").read_bytes()
    call_command("openapi_document")
    assert project.read_bytes() == written
    assert "up to date" in capsys.readouterr().out


def test_a_missing_or_conflicted_document_says_so(project):
    project.write_text("<<<<<<< HEAD\n")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("openapi_document", "--check")
    project.unlink()
    with pytest.raises(CommandError, match="docs/openapi.json is missing: run `python manage.py openapi_document`"):
        call_command("openapi_document", "--check")


def test_the_document_names_no_host_and_no_moment():
    document = openapi_document.generate()
    assert document["servers"] == [{"url": "/", "description": document["servers"][0]["description"]}]
    text = openapi_document.render(document)
    assert "testserver" not in text and "127.0.0.1" not in text and "localhost" not in text


def test_a_generation_warning_fails_the_command(monkeypatch):
    from drf_spectacular.drainage import warn

    original = openapi_document.SchemaGenerator.get_schema

    def warning(self, *args, **kwargs):
        schema = original(self, *args, **kwargs)
        warn("something drf-spectacular could not resolve")
        return schema

    monkeypatch.setattr(openapi_document.SchemaGenerator, "get_schema", warning)
    with pytest.raises(CommandError, match="drf-spectacular warned"):
        openapi_document.generate()
