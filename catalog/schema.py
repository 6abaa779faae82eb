"""OpenAPI descriptions of the platform's authentication (loaded by CatalogConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "catalog.auth.ApiKeyAuthentication"
    name = ["bearer", "basic"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "API key: Authorization: Bearer <key>"},
            {"type": "http", "scheme": "basic", "description": "API key as the password, any user name (QGIS)"},
        ]


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "catalog.auth.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
