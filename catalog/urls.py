from django.urls import path

from catalog import views

urlpatterns = [
    path("me", views.WhoAmIView.as_view(), name="api-me"),
    path("departments/", views.DepartmentListView.as_view(), name="api-departments"),
]
