from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "geoplatform.web"
    label = "web"
    verbose_name = "Portal"
