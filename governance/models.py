"""The governance app's models, imported here so Django finds them (it looks in `<app>.models`).

The shared layer's models live in governance/access/models.py; governance's domain packages
(governance/overview/ and those that follow) add theirs to this list. Code imports a model from
where it is defined, never from here.
"""

from governance.access.models import AdminAction, ApiToken, SiteSetting
from governance.alerts.models import AlertGroup, Delivery, Destination, ForwardCursor
from governance.containment.models import Revocation, RevocationStep
from governance.idp.models import IdpConnection, IdpIssuer, IdpSync
from governance.reports.models import ReportDownload, ReportRun, ReportSchedule
from governance.reviews.models import Campaign, ReviewItem

__all__ = [
    "AdminAction",
    "AlertGroup",
    "ApiToken",
    "Campaign",
    "Delivery",
    "Destination",
    "ForwardCursor",
    "IdpConnection",
    "IdpIssuer",
    "IdpSync",
    "ReportDownload",
    "ReportRun",
    "ReportSchedule",
    "ReviewItem",
    "Revocation",
    "RevocationStep",
    "SiteSetting",
]
