"""REST API for revocations (registered on the one router in governance/urls.py).

Viewers read revocations and their steps. Admins (an API token of scope "admin") start one:
`POST /revocations/` with the action, its target ids (or, for bulk, the grant list's filter) and
a reason; `?dry_run=1` (or `POST /revocations/plan/`) answers the plan instead and starts
nothing. `POST /revocations/{id}/undo/` undoes a kill switch. Bad input is a 400 naming the field.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from governance.access.lists.filters import InvalidFilter, parse_bool
from governance.access.lists.schema import (
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    spec_parameters,
)
from governance.access.roles import IsAdmin, IsViewer
from governance.containment import plan, queries, reads, services, targets
from governance.containment.models import Revocation, RevocationStep


class RevocationStepSerializer(serializers.ModelSerializer):
    # The ids the step acts on, without the encrypted token value a token step carries.
    target = serializers.JSONField(source="public_target", read_only=True)
    connection_name = serializers.CharField(
        source="connection.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = RevocationStep
        fields = [
            "id",
            "position",
            "kind",
            "operation",
            "connection",
            "connection_name",
            "target",
            "description",
            "state",
            "attempts",
            "next_retry_at",
            "started_at",
            "finished_at",
            "request_summary",
            "response_summary",
            "error",
            "verified",
            "evidence",
        ]


class RevocationSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.get_username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Revocation
        fields = [
            "id",
            "action",
            "status",
            "outcome",
            "proof",
            "reason",
            "actor",
            "requested_by",
            "grant",
            "identity",
            "client",
            "filter_params",
            "grant_ids",
            "plan",
            "undoes",
            "residual",
            "residual_until",
            "attempts",
            "errors",
            "error_log",
            "queued_at",
            "started_at",
            "finished_at",
        ]


class RevocationDetailSerializer(RevocationSerializer):
    steps = RevocationStepSerializer(many=True, read_only=True, source="ordered_steps")
    orphaned_tasks = serializers.SerializerMethodField(
        help_text="Ids of the tasks this revocation left orphaned (inventory tasks)."
    )
    used_after_flags = serializers.SerializerMethodField(
        help_text='Ids of the "used after revocation" flags linked to it (inventory flags).'
    )

    class Meta(RevocationSerializer.Meta):
        fields = [*RevocationSerializer.Meta.fields, "steps", "orphaned_tasks", "used_after_flags"]

    def get_orphaned_tasks(self, revocation) -> list[int]:
        return list(reads.orphaned_tasks(revocation).values_list("pk", flat=True))

    def get_used_after_flags(self, revocation) -> list[int]:
        return list(reads.used_after_flags(revocation).values_list("pk", flat=True))


class StartRevocationSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=targets.STARTABLE_CHOICES)
    reason = serializers.CharField(max_length=2000, help_text="Why (required, recorded).")
    grant = serializers.IntegerField(required=False, min_value=1, help_text="action=grant")
    identity = serializers.IntegerField(
        required=False, min_value=1, help_text="action=identity or identity_client"
    )
    client = serializers.IntegerField(
        required=False, min_value=1, help_text="action=client or identity_client"
    )
    tokens = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=20,
        help_text="action=grant: token values of the grant you hold, revoked by value (RFC 7009) "
        "and introspected as proof; never returned (steps show their first 6 characters).",
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="action=bulk: the grants list's filter, e.g. "
        '{"client": "12", "status": "active", "unused_days": "90"} (capped at 1000 grants).',
    )


class PlannedStepSerializer(serializers.Serializer):
    kind = serializers.CharField()
    operation = serializers.CharField()
    description = serializers.CharField()
    connection = serializers.IntegerField(source="connection_id", allow_null=True)
    skip_reason = serializers.CharField(
        help_text="Set when the step will be created skipped (no connection, no credential...)."
    )


class PlanSerializer(serializers.Serializer):
    """The dry run: what the revocation would touch and its steps; nothing is called."""

    action = serializers.CharField()
    grants = serializers.IntegerField()
    tokens = serializers.IntegerField()
    sessions = serializers.IntegerField()
    tasks = serializers.IntegerField()
    clients = serializers.IntegerField()
    idps = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
    steps = PlannedStepSerializer(many=True)
    matched = serializers.IntegerField(
        allow_null=True, help_text="bulk: active grants the filter matches (before the cap)."
    )
    nothing = serializers.BooleanField(
        help_text="true: no IdP call can be made; starting it answers 400 (nothing to revoke)."
    )
    cap = serializers.IntegerField(help_text="The most grants one bulk revocation acts on.")


class UndoSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why (required, recorded).")


DRY_RUN = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    description="true: answer the plan (200) and start nothing.",
)


@extend_schema_view(
    list=extend_schema(summary="List revocations"),
    retrieve=extend_schema(summary="One revocation with its steps"),
)
class RevocationViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Revocations, newest first. Starting one, its plan and its undo need Admin."""

    list_params = tuple(spec_parameters(reads.REVOCATION_SPEC))

    def get_permissions(self):
        if self.action in ("create", "plan", "undo"):
            return [IsAdmin()]
        return [IsViewer()]

    def get_serializer_class(self):
        return RevocationDetailSerializer if self.action == "retrieve" else RevocationSerializer

    def get_queryset(self):
        if self.action == "list":
            with bad_filter_is_400():
                return reads.revocation_rows(self.request.query_params)
        return Revocation.objects.select_related("actor")

    def get_object(self):
        revocation = super().get_object()
        revocation.ordered_steps = list(queries.revocation_steps(revocation))
        return revocation

    @extend_schema(
        summary="Start a revocation (or its dry run)",
        request=StartRevocationSerializer,
        parameters=[DRY_RUN],
        responses={202: RevocationDetailSerializer, 200: PlanSerializer},
    )
    def create(self, request):
        """Start a revocation: 202 with it (its steps run in the background; poll it)."""
        try:
            dry_run = parse_bool("dry_run", request.query_params.get("dry_run") or "false")
        except InvalidFilter as exc:
            raise ValidationError({"dry_run": [exc.message]}) from exc
        data = _valid(StartRevocationSerializer, request)
        target = _target(data)
        if dry_run:
            return Response(_plan_data(target, data.get("tokens")))
        try:
            revocation = services.start_revocation(
                actor=request.user,
                action=data["action"],
                reason=data["reason"],
                tokens=data.get("tokens"),
                request=request,
                **target.start_kwargs(),
            )
        except services.NothingToRevoke as exc:
            raise ValidationError({_target_field(data["action"]): [str(exc)]}) from exc
        except ValueError as exc:
            raise _named_400(exc, StartRevocationSerializer) from exc
        return _accepted(revocation)

    @extend_schema(
        summary="The plan of a revocation (dry run)",
        request=StartRevocationSerializer,
        responses={200: PlanSerializer},
    )
    @action(detail=False, methods=["post"])
    def plan(self, request):
        """What the revocation would touch and its steps; starts nothing. `reason` may be
        omitted here."""
        payload = request.data.copy() if hasattr(request.data, "copy") else dict(request.data)
        payload.setdefault("reason", "(dry run)")
        options = StartRevocationSerializer(data=payload)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        return Response(_plan_data(_target(data), data.get("tokens")))

    @extend_schema(
        summary="Undo a kill switch", request=UndoSerializer, responses={202: RevocationSerializer}
    )
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        """Reactivate what a kill switch deactivated where the IdP allows it; 202 with the undo."""
        revocation = self.get_object()
        data = _valid(UndoSerializer, request)
        if not queries.undoable(revocation):
            raise ValidationError(
                {
                    "revocation": [
                        "only a finished revocation that deactivated or blocked something, "
                        "not undone yet, can be undone"
                    ]
                }
            )
        try:
            undo = services.undo_revocation(
                actor=request.user, revocation=revocation, reason=data["reason"], request=request
            )
        except services.NothingToRevoke as exc:
            raise ValidationError({"revocation": [str(exc)]}) from exc
        except ValueError as exc:
            raise _named_400(exc, UndoSerializer, default="revocation") from exc
        return _accepted(undo)


def _valid(serializer_class, request) -> dict:
    options = serializer_class(data=request.data)
    options.is_valid(raise_exception=True)
    return options.validated_data


def _target(data: dict) -> targets.Target:
    """The validated body as a Target; a bad or unknown id is a 400 naming its field."""
    params = {k: data[k] for k in ("grant", "identity", "client") if k in data}
    if data["action"] == Revocation.Action.BULK:
        params = dict(data.get("filter") or {})
        unknown = sorted(set(params) - targets.BULK_PARAMS)
        if unknown:
            known = ", ".join(sorted(targets.BULK_PARAMS))
            raise ValidationError({"filter": [f"unknown filter {unknown[0]!r} (takes: {known})"]})
    try:
        return targets.resolve(data["action"], params)
    except targets.BadTarget as exc:
        if exc.field in ("grant", "identity", "client", "action"):
            raise ValidationError({exc.field: [exc.message]}) from exc
        raise ValidationError({"filter": [str(exc)]}) from exc  # "status: 'x' is not one of..."


def _named_400(exc: ValueError, serializer_class, default: str = "reason") -> ValidationError:
    """A service's ValueError ("tokens: at most 20 token values") as a 400 naming its field."""
    field, sep, message = str(exc).partition(": ")
    if sep and field in serializer_class().fields:
        return ValidationError({field: [message]})
    return ValidationError({default: [str(exc)]})


def _target_field(action: str) -> str:
    return (targets.NEEDS.get(action) or ("filter",))[0]


def _plan_data(target: targets.Target, tokens: list[str] | None = None) -> dict:
    try:
        the_plan = targets.plan_for(target, tokens=tokens)
    except ValueError as exc:
        raise _named_400(exc, StartRevocationSerializer, default="action") from exc
    bulk = target.action == Revocation.Action.BULK
    return PlanSerializer(
        {
            **the_plan.as_dict(),
            "action": target.action,
            "steps": the_plan.steps,
            "matched": the_plan.matched if bulk else None,
            "cap": plan.BULK_CAP,
            "nothing": targets.touches_nothing(the_plan),
        }
    ).data


def _accepted(revocation: Revocation) -> Response:
    revocation.ordered_steps = list(queries.revocation_steps(revocation))
    return Response(RevocationDetailSerializer(revocation).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("revocations", RevocationViewSet, basename="revocation")
