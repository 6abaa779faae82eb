from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "geoplatform.layers"
    label = "layers"
    verbose_name = "Shared layers"
