"""Catalog API: search, entry metadata and its exports, subscriptions, the demand directory."""

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.access import Action, authorize
from catalog.api.params import int_param, parse_datetime_value
from catalog.api.serializers import EntrySerializer
from catalog.audit import audit_request
from catalog.errors import InvalidRequest
from catalog.metadata import dcat, records_item, stac_collection
from catalog.models import Demand, Entry, Subscription
from catalog.search import search_entries

MAX_PAGE = 200


def base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _since(text: str | None):
    return parse_datetime_value(text, "updated_since") if text else None


class CatalogSearchView(APIView):
    """Search the catalog: Chinese text (no word segmentation needed), filters, facets, paging."""

    @extend_schema(parameters=[OpenApiParameter(n, str, required=False) for n in
                               ("q", "department", "kind", "category", "sharing", "bbox", "updated_since",
                                "offset", "limit")], responses=OpenApiTypes.OBJECT, operation_id="catalog_search")
    def get(self, request):
        p = request.query_params
        offset = int_param(request, "offset", 0, 0, 10**7)
        limit = int_param(request, "limit", 20, 1, MAX_PAGE)
        result = search_entries(request.user, q=p.get("q", ""), department=p.get("department", ""),
                                kind=p.get("kind", ""), category=p.get("category", ""),
                                sharing=p.get("sharing", ""), bbox=p.get("bbox", ""),
                                updated_since=_since(p.get("updated_since")), offset=offset, limit=limit)
        audit_request(request, "search", reason=f"{result.total} entries found", purpose=p.get("q", ""))
        body = {"total": result.total, "offset": offset, "limit": limit, "facets": result.facets,
                "results": EntrySerializer(result.entries, many=True).data}
        if offset + limit < result.total:
            query = p.copy()
            query["offset"] = str(offset + limit)
            body["next"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(body)


class EntryUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Entry
        fields = ["title_zh", "title_en", "abstract", "keywords", "steward", "cadence", "sharing",
                  "sharing_conditions", "legal_basis", "format", "fields", "terms_of_use", "resource_code"]

    def validate(self, attrs):
        from catalog.entries import validate_fields
        from catalog.schedule import validate_cadence

        sharing = attrs.get("sharing", self.instance.sharing)
        if sharing == Entry.Sharing.UNLISTED and not attrs.get("legal_basis", self.instance.legal_basis):
            raise InvalidRequest("an entry that is not shared (不予共享) must cite its legal basis")
        if "cadence" in attrs:
            validate_cadence(attrs["cadence"])
        if "fields" in attrs:
            validate_fields(attrs["fields"])
        return attrs


class EntryDetailView(APIView):
    """One entry's metadata (GB/T 21063 core elements and the field schema)."""

    @extend_schema(responses=EntrySerializer)
    def get(self, request, slug):
        decision = authorize(request, slug, Action.DISCOVER)
        data = EntrySerializer(decision.entry).data
        data["links"] = {name: f"{base_url(request)}/api/catalog/{slug}/{name}"
                         for name in ("record", "dcat") + (("stac",) if decision.entry.kind == "imagery" else ())}
        return Response(data)

    @extend_schema(request=EntryUpdateSerializer, responses=EntrySerializer)
    def patch(self, request, slug):
        """The owner (or an administrator) edits metadata, the sharing type or field sensitivities."""
        decision = authorize(request, slug, Action.ADMINISTER, purpose="edit metadata")
        serializer = EntryUpdateSerializer(decision.entry, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        entry = serializer.save()
        if "cadence" in serializer.validated_data and entry.last_published_at:
            from catalog.schedule import next_due

            entry.next_due_at = next_due(entry.cadence, entry.last_published_at)
            entry.save(update_fields=["next_due_at"])
        return Response(EntrySerializer(entry).data)


class UsageView(APIView):
    """Usage statistics per day, entry and department: audited requests and counted tiles."""

    @extend_schema(parameters=[OpenApiParameter("days", int, required=False)], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from datetime import timedelta

        from django.db.models import Count, Sum
        from django.db.models.functions import TruncDate

        from catalog.audit import tile_counter
        from catalog.models import AuditEvent, TileUsage

        tile_counter.flush()

        days = int_param(request, "days", 7, 1, 366)
        since = timezone.now() - timedelta(days=days)
        principal = request.user
        events = AuditEvent.objects.filter(at__gte=since).exclude(entry="")
        tiles = TileUsage.objects.filter(day__gte=since.date())
        if not (principal.user is not None and principal.user.is_superuser):
            code = principal.department.code if principal.department else "-"
            owned = list(Entry.objects.filter(owner__code=code).values_list("slug", flat=True))
            events = events.filter(Q(department=code) | Q(entry__in=owned))
            tiles = tiles.filter(Q(department=code) | Q(entry__in=owned))
        rows = (events.annotate(day=TruncDate("at")).values("day", "entry", "department")
                .annotate(requests=Count("id"), denied=Count("id", filter=Q(allowed=False)))
                .order_by("day", "entry", "department"))
        tile_rows = (tiles.values("day", "entry", "department")
                     .annotate(requests=Sum("requests"), denied=Sum("denied")).order_by("day", "entry"))
        audit_request(request, "usage")
        return Response({"days": days, "requests": list(rows), "tiles": list(tile_rows)})


class EntryExportView(APIView):
    """The entry as an OGC API - Records item, a DCAT dataset (JSON-LD) or a STAC collection."""

    formats = {"record": (records_item, "application/geo+json"), "dcat": (dcat, "application/ld+json"),
               "stac": (stac_collection, "application/json")}

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="catalog_entry_export")
    def get(self, request, slug, form):
        decision = authorize(request, slug, Action.DISCOVER, purpose=f"metadata {form}")
        if form == "stac" and decision.entry.kind != Entry.Kind.IMAGERY:
            raise InvalidRequest("STAC is offered for imagery collections only")
        build, content_type = self.formats[form]
        return Response(build(decision.entry, base_url(request)), content_type=content_type)


class SubscribeView(APIView):
    """Be notified when the entry is updated (POST), or stop (DELETE)."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug):
        decision = authorize(request, slug, Action.DISCOVER, purpose="subscribe")
        Subscription.objects.get_or_create(department=request.user.department, entry=decision.entry)
        return Response({"subscribed": slug})

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def delete(self, request, slug):
        decision = authorize(request, slug, Action.DISCOVER, purpose="unsubscribe")
        Subscription.objects.filter(department=request.user.department, entry=decision.entry).delete()
        return Response({"subscribed": None})


class DemandSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    answered_by = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Demand
        fields = ["id", "department", "title", "description", "purpose", "status", "answered_by", "created_at"]


class DemandListView(APIView):
    """需求目录: data a department needs that nobody shares yet."""

    @extend_schema(responses=DemandSerializer(many=True))
    def get(self, request):
        audit_request(request, "demands")
        return Response(DemandSerializer(Demand.objects.select_related("department", "answered_by")[:500],
                                         many=True).data)

    @extend_schema(request=DemandSerializer, responses=DemandSerializer)
    def post(self, request):
        serializer = DemandSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if request.user.department is None:
            raise InvalidRequest("only a department can post a demand")
        demand = serializer.save(department=request.user.department)
        audit_request(request, "demand", reason=f"demand #{demand.pk}", purpose=demand.title)
        return Response(DemandSerializer(demand).data, status=201)


class DemandAnswerView(APIView):
    """An owner answers a demand with one of its entries."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=DemandSerializer)
    def post(self, request, pk):
        demand = Demand.objects.filter(pk=pk).first()
        if demand is None:
            raise InvalidRequest(f"no demand #{pk}")
        decision = authorize(request, str(request.data.get("entry", "")), Action.ADMINISTER,
                             purpose=f"answer demand #{pk}")
        demand.answered_by = decision.entry
        demand.status = Demand.Status.ANSWERED
        demand.save()
        return Response(DemandSerializer(demand).data)
