"""REST API for access reviews (registered on the one router in governance/urls.py).

- `/review-campaigns/`: Viewers read campaigns (with their progress, and the frozen record and
  its SHA-256 once closed); Admins open one (POST) and close it (`POST {id}/close/`);
  `GET {id}/items/` lists its items with the queue's filters.
- `/review-items/`: the items, with the queue's filters (`?mine=true` for the caller's own);
  `POST {id}/decide/` and `POST bulk-decide/` (a filter in the body) for the item's reviewer or
  an Admin. Bad input is a 400 naming the field.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from governance.access.lists.filters import InvalidFilter, parse_bool
from governance.access.lists.schema import (
    ALWAYS_ALLOWED,
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    check_known_params,
    spec_parameters,
)
from governance.access.roles import IsAdmin, IsViewer
from governance.reviews import queries, services
from governance.reviews.models import Campaign, ReviewItem

MINE = OpenApiParameter("mine", OpenApiTypes.BOOL, description="true: only the caller's items.")


class CampaignSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.get_username", default=None)
    closed_by = serializers.CharField(source="closed_by.get_username", default=None)
    fallback_reviewer = serializers.CharField(source="fallback_reviewer.get_username", default=None)
    reviewers = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "status",
            "scope",
            "reviewer_rule",
            "reviewers",
            "fallback_reviewer",
            "due_at",
            "remind_days_before",
            "last_reminded_at",
            "created_by",
            "created_at",
            "closed_by",
            "closed_at",
            "record_sha256",
        ]


class ReviewerProgressSerializer(serializers.Serializer):
    reviewer_id = serializers.IntegerField(allow_null=True)
    reviewer = serializers.CharField()
    email = serializers.CharField()
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    decided = serializers.IntegerField()
    percent = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    decided = serializers.IntegerField()
    keep = serializers.IntegerField()
    revoke = serializers.IntegerField()
    reduce = serializers.IntegerField()
    percent = serializers.IntegerField()
    recommended_revoke = serializers.IntegerField()
    kept_against_advice = serializers.IntegerField()
    revoked_done = serializers.IntegerField()
    revoked_failed = serializers.IntegerField(help_text="Revocations that failed or were partial.")
    revoked_not_verified = serializers.IntegerField()
    overdue = serializers.BooleanField()
    overdue_items = serializers.IntegerField()
    by_reviewer = ReviewerProgressSerializer(many=True)


class CampaignDetailSerializer(CampaignSerializer):
    progress = serializers.SerializerMethodField()
    record = serializers.JSONField(read_only=True, help_text="The frozen record (once closed).")

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "progress", "record"]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, campaign) -> dict:
        return ProgressSerializer(queries.campaign_progress(campaign)).data


class OpenCampaignSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    scope = serializers.DictField(
        required=False,
        default=dict,
        help_text='{"idp_connection_ids": [], "client_ids": [], "server_ids": [], "scopes": [], '
        '"grant_types": [], "unused_days": 90}, every key optional.',
    )
    reviewer_rule = serializers.ChoiceField(choices=Campaign.ReviewerRule.choices)
    reviewers = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, help_text="Usernames."
    )
    fallback_reviewer = serializers.CharField(required=False, allow_blank=True, default="")
    due_at = serializers.DateTimeField()
    remind_days_before = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=365), required=False, default=list
    )

    def validate_reviewers(self, names):
        return [_user(name) for name in names]

    def validate_fallback_reviewer(self, name):
        return _user(name) if name else None


class ReviewItemSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username", default=None)
    decided_by = serializers.CharField(source="decided_by.get_username", default=None)
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "grant",
            "context",
            "reviewer",
            "recommendation",
            "recommendation_reason",
            "decision",
            "keep_scopes",
            "justification",
            "decided_by",
            "decided_at",
            "revocation",
            "outcome",
        ]


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["keep", "revoke", "reduce"])
    justification = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    keep_scopes = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list
    )


class BulkDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["keep", "revoke"])
    justification = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        default=dict,
        help_text='The queue\'s filter, e.g. {"campaign": "3", "recommendation": "revoke"}.',
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


class ReviewBulkResultSerializer(serializers.Serializer):
    decided = serializers.IntegerField()


@extend_schema_view(
    list=extend_schema(summary="List access-review campaigns"),
    retrieve=extend_schema(summary="One campaign with its progress (and record once closed)"),
)
class ReviewCampaignViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Campaigns, newest first. Opening and closing need Admin."""

    list_params = (OpenApiParameter("status", OpenApiTypes.STR, enum=Campaign.Status.values),)

    def get_permissions(self):
        return [IsAdmin()] if self.action in ("create", "close") else [IsViewer()]

    def get_serializer_class(self):
        return CampaignDetailSerializer if self.action == "retrieve" else CampaignSerializer

    def get_queryset(self):
        if self.action == "list":
            status_ = self.request.query_params.get("status", "")
            if status_ and status_ not in Campaign.Status.values:
                raise ValidationError(
                    {"status": [f"{status_!r} is not one of open, closing, closed"]}
                )
        return queries.campaign_rows(self.request.query_params).prefetch_related("reviewers")

    @extend_schema(
        summary="Open a campaign",
        request=OpenCampaignSerializer,
        responses={201: CampaignDetailSerializer},
    )
    def create(self, request):
        data = _valid(OpenCampaignSerializer, request)
        with _service_errors():
            campaign = services.open_campaign(actor=request.user, request=request, **data)
        return Response(CampaignDetailSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A campaign's items (the queue's filters)",
        parameters=spec_parameters(queries.QUEUE_SPEC),
        responses={200: ReviewItemSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def items(self, request, pk=None):
        campaign = self.get_object()
        allowed = {p.name for p in spec_parameters(queries.QUEUE_SPEC)} | {"limit", "offset"}
        allowed |= ALWAYS_ALLOWED  # ?format=json, as on every list
        check_known_params(request.query_params, allowed)
        with bad_filter_is_400():
            rows = queries.campaign_items(campaign, request.query_params)
            page = self.paginate_queryset(rows)
        return self.get_paginated_response(ReviewItemSerializer(page, many=True).data)

    @extend_schema(
        summary="Close a campaign: revoke decisions start revocations; the record freezes once "
        "they end",
        request=None,
        responses={202: CampaignDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        campaign = self.get_object()
        with _service_errors():
            services.close_campaign(campaign=campaign, actor=request.user, request=request)
        campaign.refresh_from_db()
        return Response(CampaignDetailSerializer(campaign).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="List review items (the reviewer's queue)"),
    retrieve=extend_schema(summary="One review item"),
)
class ReviewItemViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Review items with their context snapshot; deciding needs to be the item's reviewer or an
    Admin."""

    serializer_class = ReviewItemSerializer
    list_params = (*spec_parameters(queries.QUEUE_SPEC), MINE)

    def get_queryset(self):
        if self.action == "list":
            params = self.request.query_params
            with bad_filter_is_400():
                mine = parse_bool("mine", params.get("mine") or "false")
                reviewer = self.request.user if mine else None
                return queries.review_queue(params, reviewer=reviewer)
        return ReviewItem.objects.select_related("campaign", "reviewer", "decided_by")

    @extend_schema(
        summary="Decide one item", request=DecideSerializer, responses=ReviewItemSerializer
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        item = self.get_object()
        data = _valid(DecideSerializer, request)
        with _service_errors():
            services.decide(item=item, by=request.user, request=request, **data)
        return Response(ReviewItemSerializer(item).data)

    @extend_schema(
        summary="Decide keep or revoke for every item a filter (or a list of ids) matches",
        request=BulkDecideSerializer,
        responses=ReviewBulkResultSerializer,
    )
    @action(detail=False, methods=["post"], url_path="bulk-decide", url_name="bulk_decide")
    def bulk_decide(self, request):
        data = _valid(BulkDecideSerializer, request)
        if not data["filter"] and not data["ids"]:
            raise ValidationError(
                {"filter": ["give a filter or ids (an empty one would decide every item)"]}
            )
        allowed = {p.name for p in spec_parameters(queries.QUEUE_SPEC)}
        try:
            check_known_params(data["filter"], allowed)
        except ValidationError as exc:
            raise ValidationError({"filter": [str(exc.detail)]}) from exc
        with bad_filter_is_400():
            items = queries.review_queue(data["filter"])
        if data["ids"]:
            items = items.filter(pk__in=data["ids"])
        with _service_errors():
            decided = services.bulk_decide(
                items=items,
                by=request.user,
                decision=data["decision"],
                justification=data.get("justification", ""),
                request=request,
            )
        return Response({"decided": decided})


@contextmanager
def _service_errors():
    """A service's ValidationError as a 400 naming its field; its PermissionDenied as a 403."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        raise ValidationError(detail) from exc
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except InvalidFilter as exc:
        raise ValidationError({exc.param: [exc.message]}) from exc


def _valid(serializer_class, request) -> dict:
    options = serializer_class(data=request.data)
    options.is_valid(raise_exception=True)
    return dict(options.validated_data)


def _user(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise serializers.ValidationError(f"no active user {username!r}")
    return user


def register(router) -> None:
    router.register("review-campaigns", ReviewCampaignViewSet, basename="review_campaign")
    router.register("review-items", ReviewItemViewSet, basename="review_item")
