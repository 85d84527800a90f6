"""Server remote URLs lose their userinfo (noted in had_credentials), and a constraint keeps it so.

Existing rows from before: a URL with `user:password@`, or with the ingest's unparsable
`[REDACTED:password_in_url]@` in its place, is stripped; when the stripped URL is already a
remote of the same server, the two merge (sightings widened, the duplicate deleted).
"""

import re

from django.db import migrations, models

USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def strip_existing(apps, schema_editor):
    ServerRemote = apps.get_model("inventory", "ServerRemote")
    # Foreign-key checks now, not at commit: pending trigger events would make PostgreSQL
    # refuse the ALTER TABLE that adds the constraint below in the same transaction.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for remote in ServerRemote.objects.filter(url__regex=USERINFO.pattern).order_by("pk"):
        url = USERINFO.sub(r"\1", remote.url, count=1)
        twin = ServerRemote.objects.filter(server_id=remote.server_id, url=url).first()
        if twin is None:
            remote.url, remote.had_credentials = url, True
            remote.save(update_fields=["url", "had_credentials"])
            continue
        twin.first_seen = min(twin.first_seen, remote.first_seen)
        twin.last_seen = max(twin.last_seen, remote.last_seen)
        twin.had_credentials = True
        twin.save(update_fields=["first_seen", "last_seen", "had_credentials"])
        remote.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0006_remove_authorizationserver_servers"),
    ]

    operations = [
        migrations.AddField(
            model_name="serverremote",
            name="had_credentials",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(strip_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="serverremote",
            constraint=models.CheckConstraint(
                condition=models.Q(("url__regex", "^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@"),
                                   _negated=True),
                name="server_remote_url_without_userinfo"),
        ),
    ]
