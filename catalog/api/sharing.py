"""Sharing workflow API: applications, decisions, grants, the audit log, notifications."""

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import sharing
from catalog.api.params import int_param, parse_bool
from catalog.api.serializers import (
    ApplicationCreateSerializer,
    ApplicationSerializer,
    ApproveSerializer,
    AuditEventSerializer,
    CheckSerializer,
    GrantSerializer,
    NotificationSerializer,
    ReasonSerializer,
)
from catalog.audit import audit_request
from catalog.errors import EntryNotFound, InvalidRequest
from catalog.models import Application, ApplicationItem, AuditEvent, Entry, Grant, Notification


def visible_applications(principal):
    """Applications the caller's department made, must decide, or (as the data authority) checks."""
    dept = principal.department
    if principal.user is not None and principal.user.is_superuser:
        return Application.objects.all()
    if dept is None:
        return Application.objects.none()
    if dept.is_data_authority:
        return Application.objects.all()
    return Application.objects.filter(Q(applicant=dept) | Q(items__entry__owner=dept)).distinct()


def _application(request, pk) -> Application:
    application = visible_applications(request.user).filter(pk=pk).first()
    if application is None:
        raise EntryNotFound(f"no application #{pk} visible to your department")
    return application


def _entries(slugs: list[str], principal) -> list[Entry]:
    entries = []
    for slug in slugs:
        entry = Entry.objects.select_related("owner").filter(slug=slug).first()
        hidden = entry is not None and entry.sharing == Entry.Sharing.UNLISTED and entry.owner != principal.department
        if entry is None or hidden:
            raise EntryNotFound(f"no catalog entry {slug!r}")
        entries.append(entry)
    return entries


def _body_object(request) -> dict:
    """The request body as an object: a JSON list or string would otherwise fail on ``.get`` (a 500)."""
    if not isinstance(request.data, dict):
        raise InvalidRequest("the request body must be a JSON object, e.g. {\"note\": \"...\"}")
    return request.data


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be text, not {type(value).__name__}")
    return value


def _prefetched(queryset):
    return queryset.select_related("applicant").prefetch_related("items__entry__owner", "items__grant")


class ApplicationListView(APIView):
    @extend_schema(responses=ApplicationSerializer(many=True))
    def get(self, request):
        apps = _prefetched(visible_applications(request.user)).order_by("-submitted_at")[:500]
        audit_request(request, "applications")
        return Response(ApplicationSerializer(apps, many=True).data)

    @extend_schema(request=ApplicationCreateSerializer, responses=ApplicationSerializer)
    def post(self, request):
        """Apply for entries: purpose, the function or legal basis served, fields wanted, duration."""
        body = ApplicationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entries = _entries(data["entries"], request.user)
        application = sharing.submit_application(request.user, entries, data["purpose"], data["days"],
                                                 data["fields"], data["legal_basis"])
        audit_request(request, "apply", entry=",".join(e.slug for e in entries),
                      reason=f"application #{application.pk}", purpose=data["purpose"])
        return Response(ApplicationSerializer(_prefetched(Application.objects).get(pk=application.pk)).data,
                        status=201)


class ApplicationDetailView(APIView):
    @extend_schema(responses=ApplicationSerializer)
    def get(self, request, pk):
        application = _application(request, pk)
        audit_request(request, "application", reason=f"application #{pk}")
        return Response(ApplicationSerializer(_prefetched(Application.objects).get(pk=application.pk)).data)


class ApplicationActionView(APIView):
    """POST approve | reject | withdraw | check: one step of the workflow, by the role it belongs to."""

    request_serializers = {"approve": ApproveSerializer, "reject": ReasonSerializer, "withdraw": ReasonSerializer,
                           "check": CheckSerializer}

    @extend_schema(request=ApproveSerializer, responses=ApplicationSerializer, operation_id="applications_step")
    def post(self, request, pk, step):
        application = _application(request, pk)
        body = self.request_serializers[step](data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entries = ",".join(application.items.values_list("entry__slug", flat=True))
        try:
            if step == "approve":
                sharing.approve_application(request.user, application, **data)
            elif step == "reject":
                sharing.reject_application(request.user, application, data["reason"])
            elif step == "withdraw":
                sharing.withdraw_application(request.user, application)
            else:
                sharing.check_conformity(request.user, application, data["conforming"], data["note"])
        except Exception as exc:
            audit_request(request, step, entry=entries, allowed=False, reason=str(exc))
            raise
        audit_request(request, step, entry=entries, reason=f"application #{pk}")
        return Response(ApplicationSerializer(_prefetched(Application.objects).get(pk=pk)).data)


class ItemDisputeView(APIView):
    """POST dispute (applicant) or settle (data authority) the refusal of one entry of an application."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=ApplicationSerializer)
    def post(self, request, pk, slug, step):
        application = _application(request, pk)
        item = ApplicationItem.objects.filter(application=application, entry__slug=slug).first()
        if item is None:
            raise EntryNotFound(f"application #{pk} has no entry {slug!r}")
        body = _body_object(request)
        note = _text(body, "note")
        if step == "dispute":
            sharing.dispute_refusal(request.user, item, note)
        else:
            uphold = parse_bool(body.get("uphold_refusal", True), "uphold_refusal")  # "false" is not true
            sharing.settle_dispute(request.user, item, uphold, note)
        audit_request(request, step, entry=slug, reason=f"application #{pk}", purpose=note)
        return Response(ApplicationSerializer(_prefetched(Application.objects).get(pk=pk)).data)


def visible_grants(principal):
    if principal.user is not None and principal.user.is_superuser:
        return Grant.objects.all()
    dept = principal.department
    return Grant.objects.filter(Q(department=dept) | Q(entry__owner=dept)) if dept else Grant.objects.none()


class GrantListView(APIView):
    @extend_schema(responses=GrantSerializer(many=True))
    def get(self, request):
        grants = visible_grants(request.user).select_related("department", "entry").prefetch_related("api_keys")
        audit_request(request, "grants")
        return Response(GrantSerializer(grants[:1000], many=True).data)


class GrantRevokeView(APIView):
    @extend_schema(request=ReasonSerializer, responses=GrantSerializer)
    def post(self, request, pk):
        grant = visible_grants(request.user).select_related("entry").filter(pk=pk).first()
        if grant is None:
            raise EntryNotFound(f"no grant #{pk} visible to your department")
        sharing.revoke_grant(request.user, grant, _text(_body_object(request), "reason"))
        audit_request(request, "revoke", entry=grant.entry.slug, reason=f"grant #{pk}")
        return Response(GrantSerializer(grant).data)


class AuditPageSerializer(serializers.Serializer):
    """A page of audit rows, newest first; ``next`` (the older rows) when the page is full."""

    results = AuditEventSerializer(many=True)
    next = serializers.URLField(required=False)


class AuditListView(APIView):
    """The audit log: the caller's own department's rows (every row for administrators), newest first."""

    @extend_schema(responses=AuditPageSerializer)
    def get(self, request):
        principal = request.user
        rows = AuditEvent.objects.all()
        if not (principal.user is not None and principal.user.is_superuser):
            dept = principal.department.code if principal.department else "-"
            owned = Entry.objects.filter(owner__code=dept).values_list("slug", flat=True)
            rows = rows.filter(Q(department=dept) | Q(entry__in=list(owned)))
        if request.query_params.get("entry"):
            rows = rows.filter(entry=request.query_params["entry"])
        before = request.query_params.get("before")
        if before:
            rows = rows.filter(id__lt=int_param(request, "before", 0, 1, 2**62))
        limit = int_param(request, "limit", 100, 1, 1000)
        page = list(rows.order_by("-id")[:limit])
        body = {"results": AuditEventSerializer(page, many=True).data}
        if len(page) == limit:
            body["next"] = request.build_absolute_uri(f"{request.path}?before={page[-1].pk}&limit={limit}")
        return Response(body)


class NotificationListView(APIView):
    @extend_schema(responses=NotificationSerializer(many=True))
    def get(self, request):
        dept = request.user.department
        notes = Notification.objects.filter(department=dept)[:200] if dept else []
        return Response(NotificationSerializer(notes, many=True).data)
