from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from catalog.models import ApiKey, Department, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "responsible_person", "is_data_authority")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(User)
class StaffAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, (None, {"fields": ("department",)}))
    list_display = ("username", "department", "is_staff", "is_active")
    list_filter = ("department", "is_staff")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `geoplatform apikey create` (shown once); here they are listed and revoked."""

    list_display = ("prefix", "department", "name", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("department",)
    readonly_fields = ("prefix", "key_hash", "created_at", "created_by", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False
