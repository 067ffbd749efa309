"""AuditEvent now belongs to the `audit` app (audit 0001 takes over its table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("residency", "0007_usage_records_without_fk_constraints"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEvent")]),
    ]
