from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog and sharing")

    def ready(self) -> None:
        from catalog import schema  # noqa: F401 - registers the OpenAPI authentication descriptions
        from catalog.redact import install_log_redaction

        # Every process that sets Django up (web, tile replicas, workers, CLI) redacts credentials from
        # its log lines, uvicorn's access log included (it prints the query string, ?token= and all).
        install_log_redaction()
