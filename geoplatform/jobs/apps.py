from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "geoplatform.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
