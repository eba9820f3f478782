# PendingUpload (the quota journal of uploads in flight) belongs with the quota it reserves: it
# moves here from the content app. Its table keeps its name (content_pendingupload), so no row
# moves; only Django's model state does. Folder goes (see content/migrations/0006).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0011_viewer_engine_arv"),
        ("content", "0006_portrait_without_folder_pending_upload_to_companies"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PendingUpload",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("names", models.JSONField(default=list)),
                        ("reserved_bytes", models.BigIntegerField(default=0)),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        (
                            "company",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "pending upload",
                        "verbose_name_plural": "pending uploads",
                        "db_table": "content_pendingupload",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.DeleteModel(name="Folder"),
    ]
