from django.db import migrations


def create_default(apps, schema_editor):
    StorageConnection = apps.get_model("companies", "StorageConnection")
    if not StorageConnection.objects.filter(is_default=True).exists():
        StorageConnection.objects.create(
            name="Local disk", provider="local", base_path="", is_default=True, is_active=True
        )


class Migration(migrations.Migration):
    dependencies = [("companies", "0001_tenants_projects_storage")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
