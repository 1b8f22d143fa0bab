"""Carry DRF's single authtoken keys over to named, hashed API tokens, so they keep working.

``rest_framework.authtoken`` is no longer installed; its table, where an older database has
one, is read with SQL and left in place.
"""

import hashlib

from django.db import migrations


def copy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        digest = hashlib.sha256(key.encode()).hexdigest()
        if ApiToken.objects.filter(key_hash=digest).exists():
            continue
        token = ApiToken.objects.create(
            user_id=user_id, name="API token", key_hash=digest, prefix=key[:8]
        )
        ApiToken.objects.filter(pk=token.pk).update(created_at=created)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_invitations_and_api_tokens")]

    operations = [migrations.RunPython(copy_tokens, migrations.RunPython.noop)]
