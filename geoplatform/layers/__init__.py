"""Shared vector layers in PostGIS: publish (import, versions, history) and serve (OGC API Features, MVT, downloads)."""
