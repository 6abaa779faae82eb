"""URL map: pages, API, OpenAPI schema/docs, admin, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from catalog import pages as catalog_pages
from geoplatform.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("healthz", web.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("catalog/", catalog_pages.catalog_browse, name="catalog-browse"),
    path("catalog/overdue/", catalog_pages.overdue_dashboard, name="catalog-overdue"),
    path("catalog/<slug:slug>/", catalog_pages.entry_page, name="entry-page"),
    path("catalog/<slug:slug>/apply/", catalog_pages.apply_page, name="apply-page"),
    path("applications/<int:pk>/", catalog_pages.application_page, name="application-page"),
    path("my/", catalog_pages.my_department, name="my-department"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("geoplatform.geocoding.urls")),
    path("api/imagery/", include("tiles.urls")),
    path("", include("geoplatform.layers.urls")),
    path("api/", include("catalog.urls")),
]
