"""GeoTIFF -> COG ingest: the happy path, each refused input, owner-only, and that a refusal changes nothing."""

from __future__ import annotations

from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from django.core.management import CommandError, call_command
from rio_cogeo.cogeo import cog_validate

from catalog.errors import AccessDenied, Conflict
from catalog.models import Entry
from tests.tiles.conftest import write_geotiff
from tiles.ingest import IngestError
from tiles.models import ImageryDataset

pytestmark = pytest.mark.django_db
TMS = morecantile.tms.get("WebMercatorQuad")


def files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_rgb_geotiff_becomes_a_valid_jpeg_ycbcr_cog_registered_for_its_year(ingest, imagery_root, department):
    dataset = ingest(2024, title="航空影像")
    path = imagery_root / dataset.path
    assert path.parent == imagery_root / "aerial" and files(imagery_root) == sorted([dataset.path, dataset.path_c])
    assert cog_validate(path, quiet=True)[0]
    with rasterio.open(path) as cog:
        assert cog.compression.name.lower() == "jpeg" and cog.photometric.name.lower() == "ycbcr"
        assert cog.overviews(1) or max(cog.width, cog.height) <= 512
        # aligned to the WebMercatorQuad grid at the image's own zoom; the padding is masked out
        assert cog.crs.to_epsg() == 3857 and cog.res[0] == pytest.approx(TMS.matrix(dataset.maxzoom).cellSize)
        mask = cog.dataset_mask()
        assert mask[0, 0] == 0 and mask[mask.shape[0] // 2, mask.shape[1] // 2] == 255
    assert (dataset.band_count, dataset.dtype, dataset.compression) == (3, "uint8", "JPEG")
    assert (dataset.crs, dataset.source_crs) == ("EPSG:3857", "EPSG:4490")
    assert dataset.bounds == pytest.approx((116.30, 39.90, 116.32, 39.92))
    assert dataset.size_bytes == path.stat().st_size and dataset.maxzoom >= dataset.minzoom
    entry = Entry.objects.get(slug="aerial")
    assert (entry.kind, entry.owner, entry.title_zh) == ("imagery", department, "航空影像")
    assert entry.last_published_at is not None and entry.extent.extent == pytest.approx(dataset.bounds)


def test_single_band_float_uses_deflate(ingest, tmp_path):
    dataset = ingest(2023, source=write_geotiff(tmp_path / "dem.tif", count=1, dtype="float32"))
    assert (dataset.compression, dataset.band_count, dataset.tile_format) == ("DEFLATE", 1, "png")


def test_projected_source_keeps_its_crs_and_gets_lon_lat_bounds(ingest, tmp_path):
    # CGCS2000 / 3-degree Gauss-Kruger CM 117E, around 116.3E 39.9N
    source = write_geotiff(tmp_path / "gk.tif", crs="EPSG:4548", bounds=(440000, 4416000, 442000, 4418000))
    dataset = ingest(2022, source=source)
    assert dataset.source_crs == "EPSG:4548"
    west, south, east, north = dataset.bounds
    assert 116.2 < west < east < 116.4 and 39.8 < south < north < 40.0


def test_second_year_extends_the_collection_extent(ingest, tmp_path):
    ingest(2023)
    ingest(2024, source=write_geotiff(tmp_path / "east.tif", bounds=(116.32, 39.90, 116.34, 39.92)))
    extent = Entry.objects.get(slug="aerial").extent.extent
    assert extent == pytest.approx((116.30, 39.90, 116.34, 39.92))


def test_year_already_present_is_refused_and_nothing_changes(ingest, imagery_root):
    first = ingest(2024)
    before = files(imagery_root)
    with pytest.raises(Conflict, match="already has 2024.*--replace"):
        ingest(2024)
    assert files(imagery_root) == before
    assert list(ImageryDataset.objects.values_list("pk", "path")) == [(first.pk, first.path)]


def test_replace_writes_a_new_file_and_removes_the_old(ingest, imagery_root, tmp_path):
    first = ingest(2024)
    second = ingest(2024, replace=True, source=write_geotiff(tmp_path / "v2.tif", count=1))
    assert second.pk == first.pk and second.path != first.path and second.band_count == 1
    assert files(imagery_root) == sorted([second.path, second.path_c])


@pytest.mark.parametrize("make, message", [
    (lambda d: write_geotiff(d / "x.png", driver="PNG"), "not a GeoTIFF \\(GDAL reads it as PNG\\)"),
    (lambda d: (d / "x.tif").write_text("not an image") and d / "x.tif", "not a readable GeoTIFF"),
    (lambda d: write_geotiff(d / "x.tif", crs=None), "has no CRS"),
    (lambda d: write_geotiff(d / "x.tif", bounds=(10.0, 50.0, 10.1, 50.1)), "outside the platform's extent"),
    (lambda d: d / "missing.tif", "no such file"),
])
def test_bad_input_is_refused_with_the_cause_and_changes_nothing(ingest, imagery_root, tmp_path, make, message):
    with pytest.raises(IngestError, match=message):
        ingest(2024, source=make(tmp_path))
    assert files(imagery_root) == [] and not Entry.objects.filter(slug="aerial").exists()


def test_truncated_geotiff_is_refused_as_corrupt_and_leaves_no_file(ingest, imagery_root, tmp_path):
    source = write_geotiff(tmp_path / "whole.tif", size=1024)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(IngestError, match="corrupt|not a readable GeoTIFF"):
        ingest(2024, source=cut)
    assert files(imagery_root) == [] and not ImageryDataset.objects.exists()


def test_only_the_owner_department_may_ingest(ingest, imagery_root, other_department):
    ingest(2023)
    before = files(imagery_root)
    with pytest.raises(AccessDenied, match="belongs to 市交通委员会.*一数一源"):
        ingest(2024, owner=other_department)
    assert files(imagery_root) == before and ImageryDataset.objects.count() == 1


def test_an_entry_of_another_kind_cannot_take_imagery(ingest, department):
    Entry.objects.create(slug="roads", kind="layer", owner=department, title_zh="道路")
    with pytest.raises(Exception, match="not an imagery collection"):
        ingest(2024, slug="roads")


def test_cli_ingest_and_list(department, imagery_root, tmp_path, capsys):
    source = write_geotiff(tmp_path / "a.tif")
    call_command("imagery", "ingest", "--owner", "jtw", "--collection", "aerial", "--year", "2024",
                 "--title", "航空影像", "--no-progress", str(source))
    dataset = ImageryDataset.objects.get()
    size = f"{dataset.width}x{dataset.height}"
    assert f"aerial/2024: {size} px, 3 band(s) uint8, JPEG COG" in capsys.readouterr().out
    call_command("imagery", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("collection\tyear\towner")  # a header line
    assert lines[1].startswith(f"aerial\t2024\tjtw\tapplication\t{size}\tJPEG")


def test_cli_refusals_name_the_status(department, other_department, imagery_root, tmp_path):
    source = write_geotiff(tmp_path / "a.tif")
    args = ["imagery", "ingest", "--collection", "aerial", "--year", "2024", "--no-progress", str(source)]
    call_command(*args, "--owner", "jtw")
    with pytest.raises(CommandError, match=r"^forbidden \(403\): aerial belongs to"):
        call_command(*args, "--owner", "swj")
    with pytest.raises(CommandError, match=r"^conflict \(409\): aerial already has 2024"):
        call_command(*args, "--owner", "jtw")
    with pytest.raises(CommandError, match="no department 'nobody'"):
        call_command(*args, "--owner", "nobody")


def write_flight_scene(path, count: int = 4, dtype: str = "uint16"):
    """What a flight delivers: 16-bit red, green, blue and near-infrared, a gradient with a bright square."""
    from rasterio.transform import from_bounds

    from tests.tiles.conftest import BOUNDS

    size = 256
    ramp = np.linspace(200, 3000, size, dtype=np.float32)
    data = np.stack([np.add.outer(ramp, ramp) / 2 for _ in range(count)])
    data[:, 64:192, 64:192] = 3900
    if count == 4:
        data[3] = 60000  # near-infrared: drawn as a colour it would wash the picture out
    profile = {"driver": "GTiff", "width": size, "height": size, "count": count, "dtype": dtype, "crs": "EPSG:4490",
               "transform": from_bounds(*BOUNDS, size, size), "photometric": "MINISBLACK"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype))
    return path


def test_a_16_bit_4_band_scene_becomes_an_8_bit_rgb_picture_and_the_source_is_kept(ingest, imagery_root, tmp_path):
    from tiles import storage

    source = write_flight_scene(tmp_path / "flight.tif")
    dataset = ingest(2024, source=source)
    assert (dataset.band_count, dataset.dtype, dataset.compression) == (3, "uint8", "JPEG")
    from rasterio.warp import transform

    from tests.tiles.conftest import BOUNDS

    west, south, east, north = BOUNDS
    spots = {"centre": (0.5, 0.5), "dark corner": (0.03, 0.97), "bright corner": (0.97, 0.03)}
    lons = [west + fx * (east - west) for fx, _ in spots.values()]
    lats = [south + fy * (north - south) for _, fy in spots.values()]
    with rasterio.open(storage.readable_path(dataset.path)) as cog:
        xs, ys = transform("EPSG:4490", cog.crs, lons, lats)
        values = dict(zip(spots, (np.array(v, dtype=int) for v in cog.sample(list(zip(xs, ys, strict=True)))), strict=True))
    assert (values["centre"] >= 235).all(), values  # the bright square, stretched to the top
    assert values["dark corner"].max() < 60 < values["bright corner"].min(), values  # the gradient kept, NIR not
    kept = storage.readable_path(dataset.source_path)
    assert Path(kept).read_bytes() == source.read_bytes()  # the delivered file, bands and bits as they came
    files_before = files(imagery_root)
    assert sorted([dataset.path, dataset.path_c, dataset.source_path]) == files_before
    replaced = ingest(2024, replace=True)
    assert files(imagery_root) == sorted([replaced.path, replaced.path_c])  # the kept source went with its year


def test_a_one_band_16_bit_scene_becomes_grey(ingest, tmp_path):
    dataset = ingest(2024, source=write_flight_scene(tmp_path / "pan.tif", count=1))
    assert (dataset.band_count, dataset.dtype) == (1, "uint8") and dataset.source_path


def test_an_8_bit_rgb_scene_is_not_converted_nor_kept_twice(ingest):
    dataset = ingest(2024)
    assert dataset.source_path == "" and (dataset.band_count, dataset.dtype) == (3, "uint8")
