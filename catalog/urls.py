from django.urls import path, re_path

from catalog.api import accounts, entries, sharing

urlpatterns = [
    path("me", accounts.WhoAmIView.as_view(), name="api-me"),
    path("departments/", accounts.DepartmentListView.as_view(), name="api-departments"),
    path("catalog/", entries.CatalogSearchView.as_view(), name="api-catalog"),
    path("catalog/<slug:slug>/", entries.EntryDetailView.as_view(), name="api-entry"),
    path("catalog/<slug:slug>/subscription", entries.SubscribeView.as_view(), name="api-entry-subscribe"),
    re_path(r"^catalog/(?P<slug>[-\w]+)/(?P<form>record|dcat|stac)$", entries.EntryExportView.as_view(),
            name="api-entry-export"),
    path("demands/", entries.DemandListView.as_view(), name="api-demands"),
    path("demands/<int:pk>/answer", entries.DemandAnswerView.as_view(), name="api-demand-answer"),
    path("applications/", sharing.ApplicationListView.as_view(), name="api-applications"),
    path("applications/<int:pk>/", sharing.ApplicationDetailView.as_view(), name="api-application"),
    re_path(r"^applications/(?P<pk>[0-9]+)/(?P<step>approve|reject|withdraw|check)$",
            sharing.ApplicationActionView.as_view(), name="api-application-step"),
    re_path(r"^applications/(?P<pk>[0-9]+)/items/(?P<slug>[-\w]+)/(?P<step>dispute|settle)$",
            sharing.ItemDisputeView.as_view(), name="api-application-item-step"),
    path("grants/", sharing.GrantListView.as_view(), name="api-grants"),
    path("grants/<int:pk>/revoke", sharing.GrantRevokeView.as_view(), name="api-grant-revoke"),
    path("audit/", sharing.AuditListView.as_view(), name="api-audit"),
    path("usage/", entries.UsageView.as_view(), name="api-usage"),
    path("notifications/", sharing.NotificationListView.as_view(), name="api-notifications"),
]
