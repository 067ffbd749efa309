# API keys get a status (active, inactive = paused, archived = revoked: every revoked key becomes
# archived); workspaces get the Admin API's display_color, tags and compartment_id (SPEC §9).

import core.ids
import orgs.models
from django.db import migrations, models


def archive_revoked_keys(apps, schema_editor):
    ApiKey = apps.get_model("orgs", "ApiKey")
    ApiKey.objects.filter(revoked_at__isnull=False).update(status="archived")


def unarchive(apps, schema_editor):
    apps.get_model("orgs", "ApiKey").objects.update(status="active")


def fill_workspaces(apps, schema_editor):
    """Each existing workspace its own compartment id and a colour (AddField gave them all one)."""
    Workspace = apps.get_model("orgs", "Workspace")
    for ws in Workspace.objects.only("pk").iterator():
        Workspace.objects.filter(pk=ws.pk).update(compartment_id=core.ids.make_id("cmpt"),
                                                  display_color=orgs.models.random_workspace_color())


class Migration(migrations.Migration):

    dependencies = [
        ("orgs", "0009_accounts_and_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="status",
            field=models.CharField(choices=[("active", "Active"), ("inactive", "Paused"), ("archived", "Archived")],
                                   default="active", max_length=10),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, help_text="When it was archived (revoked for good).", null=True),
        ),
        migrations.RunPython(archive_revoked_keys, unarchive),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("revoked_at__isnull", False), ("status", "archived")),
                                   models.Q(("revoked_at__isnull", True), ("status__in", ["active", "inactive"])),
                                   _connector="OR"),
                name="apikey_archived_when_revoked",
                violation_error_message="An archived key has the time it was revoked, and only an archived key.",
            ),
        ),
        migrations.AddField(
            model_name="workspace",
            name="display_color",
            field=models.CharField(default=orgs.models.random_workspace_color, max_length=7),
        ),
        migrations.AddField(
            model_name="workspace",
            name="tags",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="workspace",
            name="compartment_id",
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
        migrations.RunPython(fill_workspaces, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="workspace",
            name="compartment_id",
            field=models.CharField(default=core.ids.IdFactory("cmpt"), editable=False, max_length=40, unique=True),
        ),
    ]
