"""REST API for reports (registered on the one router in governance/urls.py), Auditors and up:
`GET /reports/` and `/reports/{id}/` (status, progress, size, SHA-256, chain head),
`POST /reports/` to request one (202; poll it), `GET /reports/{id}/download/` for the file
(recorded like the console's downloads). Bad input is a 400 naming the field."""

from __future__ import annotations

from django.db.models import Count
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from governance.access.roles import IsAuditor
from governance.idp.models import IdpConnection
from governance.reports import services
from governance.reports.models import ReportFormat, ReportKind, ReportRun
from governance.reports.render import CONTENT_TYPES
from governance.reviews.models import Campaign

# The filters a request may carry besides the period (the console's form offers the same).
PARAM_FIELDS = {"idp": "idp", "campaign_id": "campaign_id"}


class ReportRunSerializer(serializers.ModelSerializer):
    download_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = ReportRun
        fields = [
            "id",
            "kind",
            "format",
            "title",
            "period_start",
            "period_end",
            "params",
            "status",
            "records",
            "errors",
            "error_log",
            "requested_by",
            "schedule",
            "file_name",
            "size_bytes",
            "sha256",
            "row_count",
            "chain_head_seq",
            "chain_head_digest",
            "generated_at",
            "expires_at",
            "queued_at",
            "started_at",
            "finished_at",
            "download_count",
        ]


class RequestReportSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    format = serializers.ChoiceField(choices=ReportFormat.choices)
    date_from = serializers.DateField(required=False, help_text="First day (UTC), included.")
    date_to = serializers.DateField(required=False, help_text="Last day (UTC), included.")
    idp = serializers.IntegerField(required=False, min_value=1, help_text="An IdP connection id.")
    campaign_id = serializers.IntegerField(
        required=False, min_value=1, help_text="kind=campaign: the campaign (required)."
    )

    def validate_idp(self, value):
        if not IdpConnection.objects.filter(pk=value).exists():
            raise ValidationError(f"No IdP connection has the id {value}.")
        return value

    def validate_campaign_id(self, value):
        if not Campaign.objects.filter(pk=value).exists():
            raise ValidationError(f"No access-review campaign has the id {value}.")
        return value

    def validate(self, data):
        # An unknown field is refused, not dropped: a misspelt filter would otherwise make a
        # report of everything that its requester takes for a filtered one.
        # (The browsable API's form posts its CSRF token along.)
        posted = set(getattr(self, "initial_data", {})) - {"csrfmiddlewaretoken"}
        unknown = sorted(posted - set(self.fields))
        if unknown:
            known = ", ".join(self.fields)
            raise ValidationError(
                {name: [f"Not a report request field ({known})."] for name in unknown}
            )
        if data["kind"] == ReportKind.CAMPAIGN and not data.get("campaign_id"):
            raise ValidationError({"campaign_id": ["The campaign report needs a campaign_id."]})
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            raise ValidationError({"date_to": ["The period must end on or after its first day."]})
        return data


@extend_schema_view(
    list=extend_schema(summary="List report runs"),
    retrieve=extend_schema(summary="One report run"),
)
class ReportRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Report runs, newest first (Auditor and above)."""

    permission_classes = [IsAuditor]
    serializer_class = ReportRunSerializer

    def get_serializer_class(self):
        # The request's fields for a POST (the browsable API's form too), the run's otherwise.
        return RequestReportSerializer if self.action == "create" else ReportRunSerializer

    def get_queryset(self):
        return ReportRun.objects.annotate(download_count=Count("downloads")).order_by(
            "-queued_at", "-id"
        )

    @extend_schema(
        summary="Request a report",
        request=RequestReportSerializer,
        responses={202: ReportRunSerializer},
    )
    def create(self, request):
        """Queue a report (or join the identical one still being made): 202; poll it."""
        options = RequestReportSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        start, end = services.period_from_dates(data.get("date_from"), data.get("date_to"))
        params = {name: data[field] for field, name in PARAM_FIELDS.items() if data.get(field)}
        try:
            run = services.request_report(
                kind=data["kind"],
                format=data["format"],
                period_start=start,
                period_end=end,
                params=params,
                requester=request.user,
                request=request,
            )
        except services.ReportRequestError as exc:
            field = {"period_end": "date_to"}.get(exc.field, exc.field)
            raise ValidationError({field: [str(exc)]}) from exc
        run = self.get_queryset().get(pk=run.pk)
        return Response(ReportRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Download a report's file", responses={200: OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file (done runs only); recorded as a download."""
        run = self.get_object()
        path = services.report_path(run) if run.file_name else None
        if run.status != ReportRun.Status.DONE or path is None or not path.is_file():
            raise Http404("This report has no file (not done, or expired).")
        services.record_download(
            run, user=request.user, address=request.META.get("REMOTE_ADDR"), request=request
        )
        response = FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=run.file_name,
            content_type=CONTENT_TYPES[run.format],
        )
        response["X-Content-SHA256"] = run.sha256
        return response


def register(router) -> None:
    router.register("reports", ReportRunViewSet, basename="report_run")
