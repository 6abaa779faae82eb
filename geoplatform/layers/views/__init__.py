"""HTTP endpoints of the layers service (thin: access in serving.access, SQL in serving.features)."""
