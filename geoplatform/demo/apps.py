from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "geoplatform.demo"
    label = "demo"
    verbose_name = "Demo city"
