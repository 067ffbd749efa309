"""The audit log moves from `residency` to its own app.

The table already exists (residency 0001): the model is re-declared here in state only, the
table renamed to `audit_auditevent` (its append-only triggers move with it), and the existing
content type relabelled. Version 2 of the hash adds the key-creator and requester fields;
existing records stay version 1. Each organization's chain head moves from the organization
row into `ChainHead`.
"""

import django.db.models.deletion
from django.db import migrations, models


def relabel_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="residency", model="auditevent").update(app_label="audit")


def copy_chain_heads(apps, schema_editor):
    Organization = apps.get_model("orgs", "Organization")
    ChainHead = apps.get_model("audit", "ChainHead")
    ChainHead.objects.bulk_create(
        ChainHead(organization_id=pk, seq=seq, hash=head)
        for pk, seq, head in Organization.objects.values_list("pk", "audit_seq", "audit_head_hash")
    )


def noop(apps, schema_editor):
    pass


TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"
# SQLite rebuilds a table to add a column with a default, which drops its triggers: they are
# (re)installed on the renamed table once its columns are final. PostgreSQL keeps them.
SQLITE_TRIGGERS = [
    "DROP TRIGGER IF EXISTS auditevent_no_update",
    "DROP TRIGGER IF EXISTS auditevent_no_delete",
    f"CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]


def install_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql)


V1_FIELDS = [
    ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
    ("seq", models.BigIntegerField()),
    ("created_at", models.DateTimeField()),
    ("action", models.CharField(max_length=60)),
    ("outcome", models.CharField(choices=[("success", "success"), ("denied", "denied")], default="success",
                                 max_length=10)),
    ("actor_type", models.CharField(max_length=10)),
    ("actor_id", models.CharField(blank=True, max_length=40)),
    ("actor_user_id", models.CharField(blank=True, max_length=40)),
    ("actor_label", models.CharField(max_length=300)),
    ("actor_role", models.CharField(blank=True, max_length=100)),
    ("source", models.CharField(max_length=10)),
    ("ip", models.CharField(blank=True, max_length=64)),
    ("user_agent", models.CharField(blank=True, max_length=500)),
    ("request_id", models.CharField(blank=True, max_length=40)),
    ("target_type", models.CharField(max_length=30)),
    ("target_id", models.CharField(max_length=40)),
    ("target_label", models.CharField(blank=True, max_length=300)),
    ("before", models.JSONField(blank=True, null=True)),
    ("after", models.JSONField(blank=True, null=True)),
    ("prev_hash", models.CharField(max_length=64)),
    ("hash", models.CharField(max_length=64)),
    ("organization", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="audit_events",
                                       to="orgs.organization")),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orgs", "0005_user_last_organization"),
        ("residency", "0007_usage_records_without_fk_constraints"),
    ]

    operations = [
        migrations.RunPython(relabel_content_type, noop),
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name="AuditEvent",
                fields=V1_FIELDS,
                options={
                    "db_table": "residency_auditevent",
                    "ordering": ["-seq"],
                    "indexes": [
                        models.Index(fields=["organization", "action", "-seq"], name="audit_org_action"),
                        models.Index(fields=["organization", "actor_id", "-seq"], name="audit_org_actor"),
                        models.Index(fields=["organization", "actor_user_id", "-seq"], name="audit_org_actor_user"),
                        models.Index(fields=["organization", "target_id", "-seq"], name="audit_org_target"),
                        models.Index(fields=["organization", "created_at"], name="audit_org_created"),
                    ],
                    "constraints": [models.UniqueConstraint(fields=("organization", "seq"),
                                                            name="audit_seq_unique_per_org")],
                },
            ),
        ]),
        migrations.AlterModelTable(name="auditevent", table=None),
        migrations.AddField("auditevent", "hash_version", models.PositiveSmallIntegerField(default=1)),
        migrations.AddField("auditevent", "actor_key_creator_id", models.CharField(blank=True, default="",
                                                                                   max_length=40), preserve_default=False),
        migrations.AddField("auditevent", "actor_key_creator_label", models.CharField(blank=True, default="",
                                                                                      max_length=300), preserve_default=False),
        migrations.AddField("auditevent", "requested_by_id", models.CharField(blank=True, default="", max_length=40), preserve_default=False),
        migrations.AddField("auditevent", "requested_by_label", models.CharField(blank=True, default="",
                                                                                 max_length=300), preserve_default=False),
        migrations.AddField("auditevent", "change_request_id", models.CharField(blank=True, default="",
                                                                                max_length=40), preserve_default=False),
        migrations.AlterField("auditevent", "actor_type", models.CharField(
            choices=[("user", "user"), ("api_key", "API key"), ("system", "system")], max_length=10)),
        migrations.AlterField("auditevent", "source", models.CharField(
            choices=[("console", "console"), ("rest", "REST API"), ("admin", "Django admin"),
                     ("command", "command line"), ("migration", "migration")], max_length=10)),
        migrations.CreateModel(
            name="ChainHead",
            fields=[
                ("organization", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True,
                                                      related_name="audit_head", serialize=False,
                                                      to="orgs.organization")),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(default="", max_length=64)),
            ],
        ),
        migrations.RunPython(copy_chain_heads, noop),
        migrations.RunPython(install_sqlite_triggers, noop),
    ]
