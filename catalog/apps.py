from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog and sharing")

    def ready(self) -> None:
        from catalog import schema  # noqa: F401 - registers the OpenAPI authentication descriptions
