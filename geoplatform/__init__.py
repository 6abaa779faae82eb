"""Geoplatform: a city's government geospatial data-sharing platform."""

__version__ = "0.1.0"
