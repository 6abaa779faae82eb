from django.urls import path, re_path

from geoplatform.geocoding.job_views import GeocodeJobResultView, GeocodeJobsView, GeocodeJobView
from geoplatform.geocoding.views import GeocodeView, ReverseView

urlpatterns = [
    path("geocode", GeocodeView.as_view(), name="geocode"),
    path("reverse", ReverseView.as_view(), name="reverse-geocode"),
    path("geocode/jobs/", GeocodeJobsView.as_view(), name="geocode-jobs"),
    path("geocode/jobs/<uuid:pk>/", GeocodeJobView.as_view(), name="geocode-job"),
    re_path(r"^geocode/jobs/(?P<pk>[0-9a-f-]{36})/result\.(?P<fmt>csv|geojson)$", GeocodeJobResultView.as_view(),
            name="geocode-job-result"),
]
