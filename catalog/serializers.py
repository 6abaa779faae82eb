from rest_framework import serializers

from catalog.models import ApiKey, Department


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
