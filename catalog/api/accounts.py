"""Catalog API views (thin: the logic lives in the catalog's modules)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.serializers import DepartmentSerializer, WhoAmISerializer
from catalog.audit import audit_request
from catalog.models import Department


class WhoAmIView(APIView):
    """The calling department, key and user: a quick way to check a key works."""

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request):
        principal = request.user
        data = {
            "department": principal.department,
            "api_key": principal.api_key,
            "user": principal.user.get_username() if principal.user else None,
        }
        audit_request(request, "whoami")
        return Response(WhoAmISerializer(data).data)


class DepartmentListView(generics.ListAPIView):
    """The city's departments (public directory for any authenticated caller)."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    pagination_class = None

    def list(self, request, *args, **kwargs):
        audit_request(request, "departments")
        return super().list(request, *args, **kwargs)
