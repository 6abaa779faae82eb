from catalog.models.audit import AuditEvent, AuditResult, Notification, TileUsage
from catalog.models.departments import Department, User
from catalog.models.entries import Category, Demand, Entry, Subscription
from catalog.models.keys import ApiKey
from catalog.models.sharing import Application, ApplicationItem, Grant

__all__ = [
    "ApiKey", "Application", "ApplicationItem", "AuditEvent", "AuditResult", "Category", "Demand", "Department",
    "Entry", "Grant", "Notification", "Subscription", "TileUsage", "User",
]
