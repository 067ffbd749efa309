from decimal import Decimal

from django.db import migrations

GEOS = [
    # code, name, inference, workspace, multiplier, order
    ("global", "Global", True, False, "1", 0),
    ("us", "United States", True, True, "1.1", 1),
]
CATALOG = [
    # id, name, geo, input, 5m write, 1h write, cache read, output (USD per million tokens)
    ("claude-opus-4-6", "Claude Opus 4.6", True, "5", "6.25", "10", "0.50", "25"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", True, "3", "3.75", "6", "0.30", "15"),
    ("claude-opus-4-5", "Claude Opus 4.5", False, "5", "6.25", "10", "0.50", "25"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5", False, "3", "3.75", "6", "0.30", "15"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", False, "1", "1.25", "2", "0.10", "5"),
    ("claude-opus-4-1", "Claude Opus 4.1", False, "15", "18.75", "30", "1.50", "75"),
]


def seed(apps, schema_editor):
    Geo = apps.get_model("residency", "Geo")
    CatalogModel = apps.get_model("residency", "CatalogModel")
    for code, name, inference, workspace, multiplier, order in GEOS:
        Geo.objects.update_or_create(code=code, defaults={
            "name": name, "inference": inference, "workspace": workspace,
            "price_multiplier": Decimal(multiplier), "sort_order": order})
    for model_id, name, geo, *prices in CATALOG:
        fields = ("input_price", "cache_write_5m_price", "cache_write_1h_price", "cache_read_price", "output_price")
        CatalogModel.objects.update_or_create(id=model_id, defaults={
            "display_name": name, "supports_inference_geo": geo,
            **{f: Decimal(p) for f, p in zip(fields, prices, strict=True)}})


class Migration(migrations.Migration):
    dependencies = [("residency", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
