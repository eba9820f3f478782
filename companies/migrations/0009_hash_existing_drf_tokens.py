"""Move the keys of Django REST framework's authtoken (plain text) into ApiToken (SHA-256 only).

Existing keys keep working: the API looks keys up by their hash. The plain-text rows are then
deleted; the authtoken app is no longer installed, so its empty table is left as it is. The
hash cannot be undone, so going back leaves the tokens where they are.
"""

import hashlib
from datetime import UTC, datetime

from django.db import migrations
from django.utils.dateparse import parse_datetime

TABLE = "authtoken_token"


def _aware(value) -> datetime | None:
    """A raw cursor gives SQLite's text or a datetime; Django stores UTC either way."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def hash_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return  # a new installation, or authtoken never migrated
    ApiToken = apps.get_model("companies", "ApiToken")
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn('key')}, {qn('user_id')}, {qn('created')} FROM {qn(TABLE)}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        token, _created = ApiToken.objects.update_or_create(
            user_id=user_id,
            defaults={"digest": hashlib.sha256(key.encode()).hexdigest(), "prefix": key[:8]},
        )
        # auto_now_add ignores a value given at creation.
        if _aware(created) is not None:
            ApiToken.objects.filter(pk=token.pk).update(created_at=_aware(created))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {qn(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("companies", "0008_invitations_and_hashed_api_tokens")]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop)]
