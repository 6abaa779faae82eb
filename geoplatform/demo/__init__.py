"""The demo city: departments, staff, keys (and, from each app, its sample data)."""
