from django.db import migrations


def lowercase_emails(apps, schema_editor):
    """One account per email, case-insensitively (SPEC §6): store every email lowercased.
    Two accounts whose emails differ only in case cannot be merged automatically: refuse, naming them."""
    User = apps.get_model("orgs", "User")
    seen = {}
    clashes = []
    for pk, email in User.objects.values_list("pk", "email"):
        lowered = (email or "").strip().lower()
        if lowered in seen:
            clashes.append(f"{seen[lowered]} and {pk} ({lowered})")
        seen[lowered] = pk
    if clashes:
        raise RuntimeError(
            "These accounts share an email address apart from letter case; merge or rename them "
            "(Django admin) before migrating: " + "; ".join(clashes))
    for pk, email in User.objects.values_list("pk", "email"):
        lowered = (email or "").strip().lower()
        if lowered != email:
            User.objects.filter(pk=pk).update(email=lowered)



class Migration(migrations.Migration):
    dependencies = [("orgs", "0007_role_levels_labelled")]
    operations = [migrations.RunPython(lowercase_emails, migrations.RunPython.noop)]
