"""`python manage.py openapi_document [--check]`: write the REST API's OpenAPI document to
docs/openapi.json, or (`--check`, in CI) fail when the file is not what the code generates.

The document is what `/v1/openapi.json` serves, generated from the serializers and the
extensions in `core.schema`. It is deterministic (no timestamps, stable order, a `servers`
entry that names no host), so a change to the REST contract shows up in review as a diff of
this file. Any warning drf-spectacular emits while generating it is an error here.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

DOCUMENT = Path("docs") / "openapi.json"
REGENERATE = "python manage.py openapi_document"


def generate():
    """The document as served, or CommandError naming drf-spectacular's warnings."""
    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()
    document = SchemaGenerator().get_schema(request=None, public=True)
    if GENERATOR_STATS:
        GENERATOR_STATS.emit_summary()
        raise CommandError("drf-spectacular warned while generating the OpenAPI document (see above): fix the "
                           "serializer or extend_schema it names; the document must generate without warnings.")
    return document


def render(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def differences(old, new):
    """What changed between two documents, one line per operation or component."""
    lines = []
    for section, label in (("paths", "path"), ("components/schemas", "component")):
        before, after = old, new
        for key in section.split("/"):
            before, after = before.get(key, {}), after.get(key, {})
        for name in sorted(set(before) | set(after)):
            if name not in before:
                lines.append(f"  + {label} {name} (added)")
            elif name not in after:
                lines.append(f"  - {label} {name} (removed)")
            elif before[name] != after[name]:
                lines.append(f"  ~ {label} {name} (changed)")
    rest = sorted(key for key in set(old) | set(new) if key not in ("paths", "components") and old.get(key) != new.get(key))
    return lines + [f"  ~ {key} (changed)" for key in rest] or ["  (formatting only)"]


class Command(BaseCommand):
    help = f"Write the OpenAPI document to {DOCUMENT}, or with --check fail when that file is stale."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help=f"Change nothing; exit 1 when {DOCUMENT} differs from what the code generates.")

    def handle(self, *args, check=False, **options):
        path = Path(settings.BASE_DIR) / DOCUMENT
        text = render(generate())
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if not check:
            if current == text:
                self.stdout.write(f"{DOCUMENT} is up to date.")
                return
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {DOCUMENT}: commit it with the change to the API.")
            return
        if current == text:
            self.stdout.write(f"{DOCUMENT} is up to date.")
            return
        if current is None:
            raise CommandError(f"{DOCUMENT} is missing: run `{REGENERATE}` and commit it.")
        try:
            changed = differences(json.loads(current), json.loads(text))
        except ValueError:
            changed = [f"  {DOCUMENT} is not valid JSON (a merge conflict?)"]
        raise CommandError(f"{DOCUMENT} is stale: the REST contract in the code differs from it:\n"
                           + "\n".join(changed)
                           + f"\nRun `{REGENERATE}` and commit docs/openapi.json with your change.")
