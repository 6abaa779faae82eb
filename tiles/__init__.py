"""Imagery: GeoTIFF -> COG ingest and the titiler tile service (run alone as replicas, see docker-compose.yml)."""
