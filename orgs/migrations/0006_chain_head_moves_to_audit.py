"""The audit chain head now lives in audit.ChainHead (copied there by audit 0001)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0005_user_last_organization"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(model_name="organization", name="audit_seq"),
        migrations.RemoveField(model_name="organization", name="audit_head_hash"),
    ]
