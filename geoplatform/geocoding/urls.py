from django.urls import path

from geoplatform.geocoding.views import GeocodeView, ReverseView

urlpatterns = [
    path("geocode", GeocodeView.as_view(), name="geocode"),
    path("reverse", ReverseView.as_view(), name="reverse-geocode"),
]
