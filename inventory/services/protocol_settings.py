"""What an Admin sets for the protocol flags (protocol_flags.py): the minimum MCP revision a
session may negotiate, and the origins a server may send users to by URL elicitation besides its
own. Each change is recorded as an admin action in its transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.access.models import SiteSetting
from governance.access.records import record_admin_action
from inventory.models import (
    MINIMUM_REVISION_SETTING,
    PROTOCOL_REVISIONS,
    ElicitationOriginAllowance,
    Server,
)
from inventory.queries_protocol import minimum_revision
from inventory.remote_urls import url_origin


@transaction.atomic
def set_minimum_revision(revision: str, *, actor, request=None) -> str:
    """Flag sessions negotiated below `revision` from now on ("" stops flagging)."""
    if revision and revision not in PROTOCOL_REVISIONS:
        raise ValidationError(
            {"revision": f"must be one of {', '.join(PROTOCOL_REVISIONS)}, or empty for none"}
        )
    before = minimum_revision()
    SiteSetting.objects.update_or_create(key=MINIMUM_REVISION_SETTING, defaults={"value": revision})
    record_admin_action(
        actor=actor,
        action="site_setting.updated",
        object_type="governance.sitesetting",
        object_id=MINIMUM_REVISION_SETTING,
        object_repr=MINIMUM_REVISION_SETTING,
        before={"value": before},
        after={"value": revision},
        request=request,
    )
    return revision


def normalize_origin(value: str) -> str:
    """`https://host[:port]` from what an Admin typed (a URL or an origin); ValidationError
    naming `origin` otherwise. Credentials, paths and queries are refused, not kept."""
    origin, had_credentials, rest = url_origin(value if isinstance(value, str) else "")
    if not origin or had_credentials or rest or not origin.startswith(("https://", "http://")):
        raise ValidationError(
            {"origin": "must be an origin such as https://login.example.com (no path, no user)"}
        )
    return origin


@transaction.atomic
def allow_elicitation_origin(
    server: Server, origin: str, *, actor, request=None
) -> ElicitationOriginAllowance:
    """Let `server` send users to `origin` by URL elicitation without a flag."""
    origin = normalize_origin(origin)
    try:
        with transaction.atomic():
            allowance = ElicitationOriginAllowance.objects.create(server=server, origin=origin)
    except IntegrityError:  # allowed already (perhaps by a concurrent Admin): nothing changes
        return ElicitationOriginAllowance.objects.get(server=server, origin=origin)
    record_admin_action(
        actor=actor,
        action="elicitation_origin.allowed",
        obj=server,
        after={"origin": origin},
        request=request,
    )
    return allowance


@transaction.atomic
def remove_elicitation_origin(allowance: ElicitationOriginAllowance, *, actor, request=None):
    """Stop allowing an origin for a server's URL elicitations."""
    server, origin = allowance.server, allowance.origin
    allowance.delete()
    record_admin_action(
        actor=actor,
        action="elicitation_origin.removed",
        obj=server,
        before={"origin": origin},
        request=request,
    )
