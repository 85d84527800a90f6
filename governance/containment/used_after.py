"""Which revocation a "used after revocation" flag is about.

Ingest raises the flag (inventory/services/derive_revoked.py) knowing only the object and the
time of its mark (Grant.revoked_at, Client/Identity.cut_off_at): inventory does not read
governance's rows, so the flag's `details.revocation` is null there. The revocation is the
latest one queued no later than the mark that acts on the object: directly, or through the
client's kill switch, the identity's cut-off, an identity-and-client revoke or a bulk list.
A grant revoked outside the console (at the IdP, seen by a sync) has none.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from governance.containment.models import Revocation
from inventory.models import Grant
from inventory.services.derive_revoked import KIND

A = Revocation.Action


def _acting_on(object_type: str, object_id: int) -> Q | None:
    if object_type == "inventory.client":
        return Q(action=A.CLIENT, client_id=object_id)
    if object_type == "inventory.identity":
        return Q(action=A.IDENTITY, identity_id=object_id)
    if object_type != "inventory.grant":
        return None
    grant = Grant.objects.filter(pk=object_id).values("client_id", "subject_id").first()
    if grant is None:
        return None
    return (
        Q(grant_id=object_id)
        | Q(grant_ids__contains=[object_id])
        | Q(action=A.CLIENT, client_id=grant["client_id"])
        | Q(action=A.IDENTITY, identity_id=grant["subject_id"])
        | Q(action=A.IDENTITY_CLIENT, identity_id=grant["subject_id"], client_id=grant["client_id"])
    )


def revocation_for_mark(object_type: str, object_id: int, marked_at: datetime) -> int | None:
    """The id of the revocation that put this mark on the object, None when none did."""
    acting = _acting_on(object_type, object_id)
    if acting is None:
        return None
    return (
        Revocation.objects.filter(acting, queued_at__lte=marked_at)
        .exclude(action=A.UNDO)
        .order_by("-queued_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def revocation_for_flag(flag) -> int | None:
    """The revocation a used-after-revocation flag is about (its details when it says, else
    found by the mark's time); None for other flags or when the console did not revoke."""
    if flag.kind != KIND:
        return None
    details = flag.details or {}
    if details.get("revocation"):
        return int(details["revocation"])
    try:
        marked_at = datetime.fromisoformat(str(details.get("cut_at", "")).replace("Z", "+00:00"))
        object_id = int(flag.object_id)
    except ValueError:
        return None
    return revocation_for_mark(flag.object_type, object_id, marked_at)
