# Folders were never reachable from the portal or the API (only the back office listed them):
# removed rather than finished, projects and their tags already group a studio's photos.
# PendingUpload (the quota journal) moves to the companies app with its table unchanged: only
# Django's model state moves (companies/migrations/0012 takes it over).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("content", "0005_portrait_viewer_engine_arv"),
    ]

    operations = [
        migrations.RemoveField(model_name="portrait", name="folder"),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="PendingUpload")],
            database_operations=[],
        ),
    ]
