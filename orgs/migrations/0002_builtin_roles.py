from django.db import migrations

AREAS = ("identity_access", "billing", "analytics", "privacy", "user_management", "libraries", "audit_log")
OWNER = {a: "manage" for a in AREAS} | {"audit_log": "view"}
BUILTINS = [
    ("primary_owner", "Primary owner", "Everything an owner can do, and transfers the primary-owner title. Exactly one per organization.", OWNER),
    ("owner", "Owner", "Manages every admin area and sees the audit log.", OWNER),
    ("admin", "Admin", "Manages members only.", {a: "none" for a in AREAS} | {"user_management": "manage"}),
    ("user", "User", "Uses the organization; no admin areas.", {a: "none" for a in AREAS}),
]


def create_builtin_roles(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for role_id, name, description, levels in BUILTINS:
        Role.objects.update_or_create(
            id=role_id, defaults={"name": name, "builtin": True, "organization": None, "description": description, **levels}
        )


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]
    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
