from django.apps import AppConfig


class GeocodingConfig(AppConfig):
    name = "geoplatform.geocoding"
    label = "geocoding"
    verbose_name = "Geocoding"
