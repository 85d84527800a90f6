"""Secrets already stored in fetched documents are masked, as new fetches now are, and
registry server.json documents and repository URLs lose their `user:password@`.

CIMD versions keep their sha256 (the natural key with the client): the next fetch of a document
that still publishes the secret stores its masked form as one new version, and flags it.
"""

import json

from django.db import migrations

from inventory.remote_urls import USERINFO_PATTERN, strip_userinfo, strip_userinfo_everywhere
from inventory.secret_members import mask_secrets


def mask_stored(apps, schema_editor):
    ClientDocument = apps.get_model("inventory", "ClientDocument")
    for version in ClientDocument.objects.filter(content__isnull=False).iterator():
        content, masked = mask_secrets(version.content)
        if masked:
            version.content = content
            version.raw = json.dumps(content, indent=2, ensure_ascii=False)
            version.save(update_fields=["content", "raw"])
    for model, field in (("ProtectedResource", "document"), ("AuthorizationServer", "metadata")):
        for row in apps.get_model("inventory", model).objects.iterator():
            document, masked = mask_secrets(getattr(row, field))
            if masked:
                setattr(row, field, document)
                row.save(update_fields=[field])
    ServerVersion = apps.get_model("inventory", "ServerVersion")
    for version in ServerVersion.objects.only("id", "document").iterator(chunk_size=500):
        document = strip_userinfo_everywhere(version.document)
        if document is not version.document:
            version.document = document
            version.save(update_fields=["document"])
    Server = apps.get_model("inventory", "Server")
    for server in Server.objects.filter(repository_url__regex=USERINFO_PATTERN):
        server.repository_url = strip_userinfo(server.repository_url)[0]
        server.save(update_fields=["repository_url"])


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0007_serverremote_url_without_userinfo"),
    ]

    operations = [
        migrations.RunPython(mask_stored, migrations.RunPython.noop),
    ]
