from django.apps import AppConfig


class TilesConfig(AppConfig):
    name = "tiles"
    label = "tiles"
    verbose_name = "Imagery"
