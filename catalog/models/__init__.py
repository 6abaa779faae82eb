from catalog.models.departments import Department, User
from catalog.models.keys import ApiKey

__all__ = ["ApiKey", "Department", "User"]
