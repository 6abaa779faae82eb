"""The gazetteer in PostGIS: atomic versioned loads, the index built from it, reverse KNN."""

import pytest

from geoplatform.geocoding.gazetteer_csv import GazetteerFileError
from geoplatform.geocoding.loading import load_gazetteer
from geoplatform.geocoding.match import geocode
from geoplatform.geocoding.models import Address, GazetteerVersion
from geoplatform.geocoding.reverse import reverse_geocode
from geoplatform.geocoding.services import active_index

from .gazetteer_fixture import ROADS, door_point, gazetteer_rows, write_gazetteer_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def gazetteer_csv(tmp_path):
    return write_gazetteer_csv(tmp_path / "gazetteer.csv")


def test_load_creates_an_active_version_and_the_catalog_entry(gazetteer_csv, department):
    from catalog.models import Entry

    version = load_gazetteer(gazetteer_csv, owner=department)
    assert version.is_active and version.row_count == len(gazetteer_rows())
    assert Address.objects.filter(version=version).count() == version.row_count
    entry = Entry.objects.get(slug="gazetteer")
    assert entry.owner == department and entry.kind == "gazetteer" and entry.feature_count == version.row_count


def test_a_new_load_replaces_the_active_version(gazetteer_csv, department):
    first = load_gazetteer(gazetteer_csv, owner=department)
    second = load_gazetteer(gazetteer_csv, owner=department)
    first.refresh_from_db()
    assert second.is_active and not first.is_active and second.number == first.number + 1
    assert GazetteerVersion.objects.filter(is_active=True).count() == 1


def test_failed_load_keeps_previous_version(gazetteer_csv, tmp_path, department):
    good = load_gazetteer(gazetteer_csv, owner=department)
    bad = tmp_path / "bad.csv"
    lines = gazetteer_csv.read_text(encoding="utf-8").splitlines()
    lines[100] = lines[100].rsplit(",", 2)[0] + ",116.4,not-a-latitude"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(GazetteerFileError, match="line 101"):
        load_gazetteer(bad, owner=department)
    assert list(GazetteerVersion.objects.filter(is_active=True)) == [good]
    assert Address.objects.count() == good.row_count


def test_only_the_owner_department_loads_new_versions(gazetteer_csv, department, other_department):
    from catalog.errors import AccessDenied

    load_gazetteer(gazetteer_csv, owner=department)
    with pytest.raises(AccessDenied):
        load_gazetteer(gazetteer_csv, owner=other_department)


def test_renamed_columns_are_mapped(tmp_path, department):
    path = write_gazetteer_csv(tmp_path / "g.csv")
    text = path.read_text(encoding="utf-8").replace("house_number", "门牌号", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GazetteerFileError, match="门牌号|house_number"):
        load_gazetteer(path, owner=department)
    assert load_gazetteer(path, owner=department, column_map={"house_number": "门牌号"}).row_count > 0


def test_index_from_the_database_matches_like_the_file(gazetteer_csv, department):
    load_gazetteer(gazetteer_csv, owner=department)
    index = active_index()
    m = geocode("朝阳区朝杨北路17号院3号楼", index)
    assert m.level == "building" and m.matched_address.endswith("朝阳北路17号院3号楼")


def test_reverse_finds_the_nearest_address_with_its_distance(gazetteer_csv, department):
    load_gazetteer(gazetteer_csv, owner=department)
    lon, lat = door_point(ROADS[1], 7)  # 牛街7号
    found = reverse_geocode(lon + 0.0001, lat, limit=3)
    assert found[0]["standard_address"].endswith("牛街7号")
    assert 5 < found[0]["distance_m"] < 12 and found[0]["distance_m"] <= found[1]["distance_m"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_lookups_build_one_index_and_none_fails(gazetteer_csv, department, settings, tmp_path):
    """The web server's threads all ask for the index at start: one builds it, the others wait for it."""
    import threading

    from django.db import connection

    from geoplatform.geocoding import services

    settings.DATA_DIR = tmp_path
    load_gazetteer(gazetteer_csv, owner=department)
    services._CACHE.clear()
    found, failures = [], []

    def lookup() -> None:
        try:
            found.append(active_index())
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a thread raised
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=lookup) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == [] and len(found) == 4 and len({id(index) for index in found}) == 1
    stored = list((tmp_path / "geocoding").iterdir())
    assert [p.suffix for p in stored] == [".pickle"]  # no temporary file left behind
