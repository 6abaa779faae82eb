from rest_framework import serializers

from catalog.models import (
    ApiKey,
    Application,
    ApplicationItem,
    AuditEvent,
    Department,
    Entry,
    Grant,
    Notification,
)


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["code", "name_zh", "name_en", "responsible_person", "is_data_authority"]


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "created_at", "expires_at"]

    def get_id(self, key: ApiKey) -> str:
        return f"gp_{key.prefix}"


class WhoAmISerializer(serializers.Serializer):
    department = DepartmentSerializer(allow_null=True)
    api_key = ApiKeySerializer(allow_null=True)
    user = serializers.CharField(allow_null=True)


class EntrySerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="code", read_only=True)
    owner_name = serializers.CharField(source="owner.name_zh", read_only=True)
    category = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # uncategorised: null
    bbox = serializers.SerializerMethodField()
    sharing_label = serializers.CharField(source="get_sharing_display", read_only=True)

    class Meta:
        model = Entry
        fields = ["slug", "resource_code", "kind", "title_zh", "title_en", "abstract", "keywords", "category",
                  "owner", "owner_name", "steward", "cadence", "last_published_at", "next_due_at", "sharing",
                  "sharing_label", "sharing_conditions", "legal_basis", "format", "fields", "bbox", "crs",
                  "feature_count", "terms_of_use", "updated_at"]

    def get_bbox(self, entry: Entry) -> list[float] | None:
        return list(entry.extent.extent) if entry.extent else None


class ApplicationItemSerializer(serializers.ModelSerializer):
    entry = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.CharField(source="entry.owner.code", read_only=True)
    grant = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationItem
        fields = ["entry", "owner", "decision", "reason", "decided_at", "grant"]

    def get_grant(self, item: ApplicationItem) -> int | None:
        grant = getattr(item, "grant", None)
        return grant.pk if grant else None


class ApplicationSerializer(serializers.ModelSerializer):
    applicant = serializers.SlugRelatedField(slug_field="code", read_only=True)
    items = ApplicationItemSerializer(many=True, read_only=True)

    class Meta:
        model = Application
        fields = ["id", "applicant", "purpose", "legal_basis", "fields", "days", "status", "submitted_at",
                  "conformity_due_at", "checked_at", "check_note", "answer_due_at", "closed_at", "items"]


class ApplicationCreateSerializer(serializers.Serializer):
    entries = serializers.ListField(child=serializers.SlugField(), min_length=1)
    purpose = serializers.CharField()
    legal_basis = serializers.CharField(required=False, allow_blank=True, default="")
    fields = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    days = serializers.IntegerField(min_value=1)


class ApproveSerializer(serializers.Serializer):
    fields = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True, default=None)
    days = serializers.IntegerField(required=False, allow_null=True, default=None)
    transforms = serializers.DictField(child=serializers.DictField(), required=False, default=dict)
    api_keys = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CheckSerializer(serializers.Serializer):
    conforming = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class GrantSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    entry = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    api_keys = serializers.SerializerMethodField()

    class Meta:
        model = Grant
        fields = ["id", "department", "entry", "fields", "transforms", "valid_from", "valid_to", "api_keys",
                  "purpose", "revoked_at", "revoke_reason"]

    def get_api_keys(self, grant: Grant) -> list[str]:
        return [f"gp_{k.prefix}" for k in grant.api_keys.all()]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "request_id", "department", "api_key", "username", "entry", "action", "allowed",
                  "reason", "grant_id", "purpose", "client", "path", "hash"]


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "payload", "created_at", "read_at"]
