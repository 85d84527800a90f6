"""REST API for findings (registered on the one router in governance/urls.py).

Viewers (a token of scope "read") list and read findings, with the same filters and sorts as the
page (governance/findings/queries.py FINDING_SPEC: published in the schema and enforced). Admins
(scope "admin") triage: `POST /findings/{id}/acknowledge/`, `resolve/`, `suppress/`, `reopen/`,
`assign/`, and `POST /findings/bulk/` for many at once. An action that does not apply to the
finding's status, or bad input, is a 400 naming the field.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from governance.access.lists.schema import (
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    spec_parameters,
)
from governance.access.roles import IsAdmin, IsViewer
from governance.findings import queries, services
from inventory.models import Finding, FindingChange


class FindingSerializer(serializers.ModelSerializer):
    assignee = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "kind",
            "severity",
            "status",
            "object_type",
            "object_id",
            "object_repr",
            "summary",
            "details",
            "raised_at",
            "last_raised_at",
            "times_raised",
            "assignee",
            "acknowledged_at",
            "acknowledged_by",
            "suppressed_until",
            "suppress_reason",
            "resolved_at",
            "resolved_by",
            "resolution",
            "resolution_note",
        ]


class FindingChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = FindingChange
        fields = ["at", "actor", "action", "from_value", "to_value", "note"]


class FindingDetailSerializer(FindingSerializer):
    history = serializers.SerializerMethodField(help_text="Every change, oldest first.")

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "history"]

    def get_history(self, finding) -> list[dict]:
        return FindingChangeSerializer(queries.history(finding), many=True).data


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_NOTE, default=""
    )


class SuppressSerializer(NoteSerializer):
    until = serializers.DateTimeField(help_text="When the suppression ends (in the future).")
    reason = serializers.CharField(max_length=services.MAX_NOTE, help_text="Why (required).")


class AssignSerializer(NoteSerializer):
    assignee = serializers.CharField(
        allow_null=True, max_length=150, help_text="A username, or null for nobody."
    )


class BulkSerializer(NoteSerializer):
    action = serializers.ChoiceField(choices=services.ACTIONS)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=services.MAX_BULK,
    )
    until = serializers.DateTimeField(required=False, help_text="action=suppress")
    reason = serializers.CharField(
        required=False, max_length=services.MAX_NOTE, help_text="action=suppress"
    )
    assignee = serializers.CharField(
        required=False, allow_null=True, max_length=150, help_text="action=assign (null: nobody)"
    )


class FindingBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    done = serializers.IntegerField(help_text="Findings changed.")
    skipped = serializers.IntegerField(help_text="Findings the action did not apply to.")


def _user(username):
    """The active user named `username` (None for None); 400 naming `assignee` otherwise."""
    if username is None:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"assignee": [f"no active user {username!r}"]})
    return user


def _options(data: dict) -> dict:
    options = {k: data[k] for k in ("until", "reason") if k in data}
    if "assignee" in data:
        options["assignee"] = _user(data["assignee"])
    return options


@extend_schema_view(
    list=extend_schema(summary="List findings (default: those needing attention)"),
    retrieve=extend_schema(summary="One finding with its history"),
)
class FindingViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Findings the rules raised; triage them with the actions (Admin)."""

    list_params = tuple(spec_parameters(queries.FINDING_SPEC))

    def get_permissions(self):
        return [IsViewer()] if self.action in ("list", "retrieve", None) else [IsAdmin()]

    def get_serializer_class(self):
        return FindingDetailSerializer if self.action != "list" else FindingSerializer

    def get_queryset(self):
        if self.action == "list":
            with bad_filter_is_400():
                return queries.findings(self.request.query_params)
        return Finding.objects.select_related("assignee")

    def _act(self, name: str, serializer_class, request):
        finding = self.get_object()
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        try:
            finding = getattr(services, name)(
                finding,
                user=request.user,
                note=data.get("note", ""),
                request=request,
                **_options(data),
            )
        except services.TriageError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return Response(FindingDetailSerializer(finding).data)

    @extend_schema(summary="Acknowledge", request=NoteSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Open or suppressed -> acknowledged (it leaves "needs attention")."""
        return self._act("acknowledge", NoteSerializer, request)

    @extend_schema(summary="Resolve", request=NoteSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolved by a person, with an optional note (a returning condition opens a new one)."""
        return self._act("resolve", NoteSerializer, request)

    @extend_schema(summary="Suppress until a time", request=SuppressSerializer)
    @action(detail=True, methods=["post"])
    def suppress(self, request, pk=None):
        """Hidden until `until` for `reason`; it needs attention again after that."""
        return self._act("suppress", SuppressSerializer, request)

    @extend_schema(summary="Reopen", request=NoteSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Acknowledged or suppressed -> open. A resolved finding cannot reopen."""
        return self._act("reopen", NoteSerializer, request)

    @extend_schema(summary="Assign", request=AssignSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Give the finding to a user (by username), or to nobody (null)."""
        return self._act("assign", AssignSerializer, request)

    @extend_schema(
        summary="One action on many findings",
        request=BulkSerializer,
        responses={200: FindingBulkResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """The action on each id it applies to, in one transaction; says how many it skipped."""
        body = BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if data["action"] == "assign" and "assignee" not in data:
            raise ValidationError({"assignee": ["required for assign (null: nobody)"]})
        try:
            result = services.bulk(
                data["action"],
                data["ids"],
                user=request.user,
                note=data.get("note", ""),
                request=request,
                **_options(data),
            )
        except services.TriageError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return Response(FindingBulkResultSerializer(result).data)


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    router.register("findings", FindingViewSet, basename="finding")
