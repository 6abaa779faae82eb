"""Metadata in the forms GIS catalogs read: OGC API - Records item, DCAT (JSON-LD), STAC collection."""

from __future__ import annotations

from catalog.models import Entry

ACCRUAL = {  # cadence -> Dublin Core frequency
    "weekly": "http://purl.org/cld/freq/weekly", "quarterly": "http://purl.org/cld/freq/quarterly",
    "yearly": "http://purl.org/cld/freq/annual", "on_change": "http://purl.org/cld/freq/irregular",
}
SHARING_TEXT = {"open": "无条件共享", "application": "有条件共享", "unlisted": "不予共享"}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _bbox(entry: Entry) -> list[float] | None:
    return list(entry.extent.extent) if entry.extent else None


def _frequency(cadence: str) -> str:
    return ACCRUAL.get(cadence, "http://purl.org/cld/freq/monthly")


def records_item(entry: Entry, base_url: str) -> dict:
    """OGC API - Records - Part 1 record (a GeoJSON Feature)."""
    self_url = f"{base_url}/api/catalog/{entry.slug}/record"
    return {
        "id": entry.slug,
        "type": "Feature",
        "conformsTo": ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"],
        "geometry": {"type": "Polygon", "coordinates": entry.extent.coords} if entry.extent else None,
        "properties": {
            "type": "dataset",
            "title": entry.title_zh,
            "description": entry.abstract,
            "keywords": entry.keywords,
            "language": {"code": "zh-Hans"},
            "themes": [{"concepts": [{"id": entry.category.code, "title": entry.category.name_zh}]}]
            if entry.category else [],
            "contacts": [{"organization": entry.owner.name_zh, "name": entry.owner.responsible_person,
                          "roles": ["publisher", "custodian"]}],
            "created": _iso(entry.created_at),
            "updated": _iso(entry.last_published_at or entry.updated_at),
            "rights": f"{SHARING_TEXT[entry.sharing]}. {entry.terms_of_use}".strip(),
            "formats": [{"name": entry.format}] if entry.format else [],
            "geoplatform:resourceCode": entry.resource_code,
            "geoplatform:sharing": entry.sharing,
            "geoplatform:updateCadence": entry.cadence,
            "geoplatform:featureCount": entry.feature_count,
            "geoplatform:crs": entry.crs,
        },
        "links": [
            {"rel": "self", "type": "application/geo+json", "href": self_url},
            {"rel": "alternate", "type": "application/ld+json", "href": f"{base_url}/api/catalog/{entry.slug}/dcat"},
            {"rel": "describedby", "type": "application/json", "href": f"{base_url}/api/catalog/{entry.slug}/"},
        ],
    }


def dcat(entry: Entry, base_url: str) -> dict:
    """DCAT-AP style dataset description in JSON-LD."""
    doc = {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                     "foaf": "http://xmlns.com/foaf/0.1/", "locn": "http://www.w3.org/ns/locn#"},
        "@id": f"{base_url}/api/catalog/{entry.slug}/",
        "@type": "dcat:Dataset",
        "dct:identifier": entry.resource_code or entry.slug,
        "dct:title": [{"@value": entry.title_zh, "@language": "zh"}]
        + ([{"@value": entry.title_en, "@language": "en"}] if entry.title_en else []),
        "dct:description": entry.abstract,
        "dcat:keyword": entry.keywords,
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": entry.owner.name_zh},
        "dct:accrualPeriodicity": {"@id": _frequency(entry.cadence)},
        "dct:issued": _iso(entry.created_at),
        "dct:modified": _iso(entry.last_published_at or entry.updated_at),
        "dct:accessRights": SHARING_TEXT[entry.sharing],
        "dcat:distribution": [{"@type": "dcat:Distribution", "dct:format": entry.format or entry.kind,
                               "dcat:accessURL": {"@id": f"{base_url}/api/catalog/{entry.slug}/"}}],
    }
    if entry.extent:
        doc["dct:spatial"] = {"@type": "dct:Location", "dcat:bbox": entry.extent.wkt}
    return doc


def stac_collection(entry: Entry, base_url: str) -> dict:
    """STAC Collection for imagery entries."""
    bbox = _bbox(entry) or [-180, -90, 180, 90]
    return {
        "type": "Collection", "stac_version": "1.0.0", "id": entry.slug,
        "title": entry.title_zh, "description": entry.abstract or entry.title_zh,
        "keywords": entry.keywords, "license": "other",
        "providers": [{"name": entry.owner.name_zh, "roles": ["producer", "host"]}],
        "extent": {"spatial": {"bbox": [bbox]},
                   "temporal": {"interval": [[_iso(entry.created_at), _iso(entry.last_published_at)]]}},
        "links": [{"rel": "self", "href": f"{base_url}/api/catalog/{entry.slug}/stac", "type": "application/json"}],
    }
