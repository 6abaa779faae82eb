"""What the catalog says of imagery collections, for the WMTS capabilities: abstracts, keywords, who provides them."""

from __future__ import annotations

from catalog.models import Department, Entry
from tiles.capabilities import EntryMetadata, Provider
from tiles.registry import database_session

PLATFORM = Provider(name="Geoplatform")


def collection_metadata(slugs: list[str]) -> tuple[dict[str, EntryMetadata], Provider]:
    """Each collection's catalog metadata, and the ServiceProvider of a document listing them.

    The provider is the owner department when every collection listed has the same one (一数一源: the
    department answerable for the data); otherwise the data authority (政务数据主管部门) that runs the
    platform, each layer's abstract then naming its owner.
    """
    with database_session():
        entries = list(Entry.objects.filter(slug__in=slugs).select_related("owner"))
        owners = {entry.owner_id: entry.owner for entry in entries}
        if len(owners) == 1:
            provider_department = next(iter(owners.values()))
        else:
            provider_department = Department.objects.filter(is_data_authority=True).first()
    metadata = {entry.slug: EntryMetadata(abstract=entry.abstract, keywords=tuple(entry.keywords or ()),
                                          owner=entry.owner.name_zh) for entry in entries}
    if provider_department is None:
        return metadata, PLATFORM
    return metadata, Provider(name=provider_department.name_zh, contact=provider_department.contact,
                              person=provider_department.responsible_person)
