"""/api/imagery/: the imagery collections a caller may discover (tiles are served under /tiles/)."""

from django.urls import path

from tiles import views

urlpatterns = [
    path("", views.CollectionListView.as_view(), name="imagery-collections"),
    path("<slug:slug>/", views.CollectionDetailView.as_view(), name="imagery-collection"),
]
