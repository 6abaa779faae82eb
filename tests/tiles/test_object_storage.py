"""Imagery COGs on S3-compatible object storage, against a real S3 API server (moto's server mode) on 127.0.0.1.

The server checks credentials (IAM authentication on, one user with a key allowed s3:*), so a wrong secret is
refused as a real store refuses it. Ingest uploads through boto3, the tile service reads ``/vsis3/`` through GDAL,
configured by the same AWS_* variables. Tile tests need committed rows (the tile app answers in other threads;
the replacement runs as a separate ``geoplatform imagery ingest`` process): they use a transactional database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import morecantile
import numpy as np
import pytest
import rasterio
from django.core.management import CommandError, call_command
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rio_cogeo.cogeo import cog_validate

from catalog.models import Entry
from tests import servers
from tests.tiles.conftest import BOUNDS, write_geotiff
from tiles import registry as registry_module
from tiles import storage
from tiles.models import ImageryDataset
from tiles.registry import registry
from tiles.storage import StorageError, s3_settings

ROOT = Path(__file__).resolve().parents[2]
PREFERRED_PORT = 18670
TILE = morecantile.tms.get("WebMercatorQuad").tile(116.31, 39.91, 14)
TILE_URL = f"/tiles/aerial/2024/14/{TILE.x}/{TILE.y}.png"


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self):
        return boto3.client("s3", endpoint_url=f"http://{self.endpoint}", region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def keys(self, bucket: str) -> list[str]:
        return sorted(o["Key"] for o in self.client().list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto_server on a loopback port, with IAM authentication switched on once its one user and key exist."""
    port = free_port(PREFERRED_PORT)
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.2)
        setup = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup",
                                      region_name="us-east-1")
        iam = setup.client("iam", endpoint_url=base)
        iam.create_user(UserName="geoplatform")
        key = iam.create_access_key(UserName="geoplatform")["AccessKey"]
        iam.put_user_policy(UserName="geoplatform", PolicyName="imagery", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        request = urllib.request.Request(base + "/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=5).read()  # from now on every request must be signed by that key
        yield S3Server(port, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        log.close()


def s3_environment(server: S3Server, **overrides: str) -> dict[str, str]:
    """The variables GDAL's /vsis3/ and tiles.storage read, for this server."""
    return {"AWS_S3_ENDPOINT": server.endpoint, "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE",
            "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key, **overrides}


@pytest.fixture
def bucket(s3_server, settings, monkeypatch, imagery_root) -> str:
    """A fresh bucket, configured as where new COGs go (prefix ``imagery``); the AWS_* variables point at it."""
    name = f"imagery-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=name)
    for variable, value in s3_environment(s3_server).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET = name
    settings.GEOPLATFORM_IMAGERY_S3_PREFIX = "imagery"
    return name


def solid_geotiff(path: Path, rgb: tuple[int, int, int]) -> Path:
    """An 8-bit RGB GeoTIFF of one colour over the test area, so two years are told apart by their pixels."""
    data = np.stack([np.full((256, 256), value, dtype="uint8") for value in rgb])
    with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8", crs="EPSG:4490",
                       transform=from_bounds(*BOUNDS, 256, 256)) as dst:
        dst.write(data)
    return path


def local_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def tile_colour(client: TestClient, key: str) -> tuple[int, ...]:
    response = client.get(TILE_URL, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    with MemoryFile(response.content) as memfile, memfile.open() as image:
        pixels = image.read()
    return tuple(int(np.median(band)) for band in pixels[:3])


def run_ingest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``geoplatform imagery ingest`` as its own process (its GDAL and boto3 know nothing of this one's)."""
    environment = {**os.environ, "DATABASE_URL": servers.test_database_url(), **env}
    return subprocess.run(["geoplatform", "imagery", "ingest", "--no-progress", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


class CuttingProxy:
    """A TCP proxy to the S3 server that lets every PUT send only ``allow`` bytes, then drops both connections:
    an upload interrupted part-way, as a failing network or a killed link does it."""

    def __init__(self, upstream_port: int, allow: int = 4096) -> None:
        self.upstream_port, self.allow, self.cuts = upstream_port, allow, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, outgoing: bool) -> None:
        sent_in_put = None
        try:
            while chunk := source.recv(65536):
                if outgoing and (start := chunk.find(b"PUT /")) >= 0:
                    sent_in_put, chunk_start = 0, start
                else:
                    chunk_start = 0
                if sent_in_put is not None:
                    sent_in_put += len(chunk) - chunk_start
                    if sent_in_put > self.allow:
                        target.sendall(chunk[: max(chunk_start, len(chunk) - (sent_in_put - self.allow))])
                        self.cuts += 1
                        break
                target.sendall(chunk)
        except OSError:
            pass
        for sock in (source, target):
            with_shutdown(sock)

    def close(self) -> None:
        self.listener.close()


def with_shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


# --- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("environ, expected", [
    ({}, (None, "virtual", "us-east-1")),
    ({"AWS_S3_ENDPOINT": "objectstore:9000", "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE"},
     ("http://objectstore:9000", "path", "us-east-1")),
    ({"AWS_S3_ENDPOINT": "oss.city.gov.cn", "AWS_REGION": "cn-north-1"}, ("https://oss.city.gov.cn", "virtual",
                                                                          "cn-north-1")),
    ({"AWS_S3_ENDPOINT": "https://s3.example.org/", "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "off",
      "AWS_DEFAULT_REGION": "eu-west-1"}, ("https://s3.example.org", "path", "eu-west-1")),
])
def test_boto3_settings_follow_the_variables_gdal_reads(environ, expected):
    settings = s3_settings(environ)
    assert (settings.endpoint_url, settings.addressing_style, settings.region) == expected


def test_locations_name_the_bucket_and_key_and_never_a_credential(settings):
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET, settings.GEOPLATFORM_IMAGERY_S3_PREFIX = "city-imagery", "/cogs/"
    location = storage.new_location("aerial", 2024)
    assert location.startswith("s3://city-imagery/cogs/aerial/2024-") and location.endswith(".tif")
    assert storage.readable_path(location) == "/vsis3/" + location.removeprefix("s3://")
    assert storage.split_remote(storage.readable_path(location)) == ("city-imagery", location[len("s3://city-imagery/"):])
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET = ""
    assert storage.new_location("aerial", 2024).startswith("aerial/2024-")


# --- ingest --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ingest_uploads_a_valid_cog_and_registers_its_s3_location(ingest, bucket, s3_server, imagery_root):
    dataset = ingest(2024, title="航空影像")
    assert dataset.path.startswith(f"s3://{bucket}/imagery/aerial/2024-") and dataset.storage == "s3"
    key = dataset.path.removeprefix(f"s3://{bucket}/")
    assert s3_server.keys(bucket) == sorted([key, dataset.path_c.removeprefix(f"s3://{bucket}/")])  # + c-aligned twin
    head = s3_server.client().head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == dataset.size_bytes and head["ContentType"].startswith("image/tiff")
    assert cog_validate(storage.readable_path(dataset.path), quiet=True)[0]  # GDAL reads it back through /vsis3/
    assert local_files(imagery_root) == []  # the scratch COG is gone
    assert s3_server.secret_key not in dataset.path and s3_server.access_key not in dataset.path


@pytest.mark.django_db
def test_missing_bucket_is_refused_before_converting_and_registers_nothing(ingest, bucket, settings, imagery_root):
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET = "no-such-bucket"
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist at http://127.0.0.1:.*"
                                           "GEOPLATFORM_IMAGERY_S3_BUCKET") as refused:
        ingest(2024)
    assert refused.value.status == 503
    assert not ImageryDataset.objects.exists() and not Entry.objects.filter(slug="aerial").exists()
    assert local_files(imagery_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize("variable, wrong, named", [
    ("AWS_SECRET_ACCESS_KEY", "wrong-secret-0123456789", "AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID"),
    ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000", "does not know the access key in AWS_ACCESS_KEY_ID"),
])
def test_wrong_credentials_are_a_clear_error_without_the_secret(ingest, bucket, s3_server, monkeypatch, caplog,
                                                                imagery_root, variable, wrong, named):
    monkeypatch.setenv(variable, wrong)
    with pytest.raises(StorageError, match=named) as refused:
        ingest(2024)
    message = str(refused.value)
    assert "nothing was registered" in message
    for secret in (wrong, s3_server.secret_key):
        assert secret not in message and secret not in caplog.text
    assert not ImageryDataset.objects.exists() and s3_server.keys(bucket) == [] and local_files(imagery_root) == []


@pytest.mark.django_db
def test_cli_names_the_storage_failure(department, bucket, settings, tmp_path):
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET = "no-such-bucket"
    source = write_geotiff(tmp_path / "a.tif")
    with pytest.raises(CommandError, match=r"^storage unavailable \(503\): object storage: checking the destination "
                                          r"s3://no-such-bucket failed: bucket 'no-such-bucket' does not exist"):
        call_command("imagery", "ingest", "--owner", "jtw", "--collection", "aerial", "--year", "2024",
                     "--no-progress", str(source))


@pytest.mark.django_db
def test_interrupted_upload_registers_nothing_and_leaves_the_previous_year(ingest, bucket, s3_server, monkeypatch,
                                                                          imagery_root, tmp_path):
    first = ingest(2024)
    before = s3_server.keys(bucket)
    stored = s3_server.client().get_object(Bucket=bucket, Key=before[0])["Body"].read()
    extent = Entry.objects.get(slug="aerial").extent.extent
    proxy = CuttingProxy(s3_server.port)
    monkeypatch.setenv("AWS_S3_ENDPOINT", f"127.0.0.1:{proxy.port}")
    try:
        with pytest.raises(StorageError, match="connection to http://127.0.0.1:.* was cut off; nothing was "
                                               "registered and the previous year, if any, is unchanged"):
            ingest(2024, replace=True, source=solid_geotiff(tmp_path / "new.tif", (200, 30, 30)))
        with pytest.raises(StorageError, match="cut off"):
            ingest(2025, source=solid_geotiff(tmp_path / "next.tif", (30, 30, 200)))
    finally:
        proxy.close()
    assert proxy.cuts >= 2  # the uploads really were cut, more than once with botocore's retries
    assert list(ImageryDataset.objects.values_list("year", "path")) == [(2024, first.path)]
    assert Entry.objects.get(slug="aerial").extent.extent == pytest.approx(extent)
    assert s3_server.keys(bucket) == before
    assert s3_server.client().get_object(Bucket=bucket, Key=before[0])["Body"].read() == stored
    assert local_files(imagery_root) == []


def noise_geotiff(path: Path, size: int = 2000) -> Path:
    """One band of random floats (incompressible, so its COG is several MB: uploaded in parts below)."""
    data = np.random.default_rng(16).random((1, size, size), dtype=np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs="EPSG:4490", transform=from_bounds(*BOUNDS, size, size)) as dst:
        dst.write(data)
    return path


@pytest.mark.django_db
def test_a_large_cog_goes_up_in_parts_and_an_interrupted_one_leaves_no_upload_behind(
        ingest, bucket, s3_server, monkeypatch, imagery_root, tmp_path):
    monkeypatch.setattr(storage, "MULTIPART_BYTES", 5 * 2**20)  # S3's smallest part, so a test file has several
    source = noise_geotiff(tmp_path / "dem.tif")
    proxy = CuttingProxy(s3_server.port, allow=1024 * 1024)
    monkeypatch.setenv("AWS_S3_ENDPOINT", f"127.0.0.1:{proxy.port}")
    try:
        with pytest.raises(StorageError, match="cut off; nothing was registered"):
            ingest(2024, source=source)
    finally:
        proxy.close()
    assert proxy.cuts >= 1 and not ImageryDataset.objects.exists() and s3_server.keys(bucket) == []
    assert s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted
    monkeypatch.setenv("AWS_S3_ENDPOINT", s3_server.endpoint)
    dataset = ingest(2024, source=source)
    head = s3_server.client().head_object(Bucket=bucket, Key=dataset.path.removeprefix(f"s3://{bucket}/"))
    assert dataset.size_bytes > 2 * 5 * 2**20 and head["ContentLength"] == dataset.size_bytes
    assert head["ETag"].strip('"').split("-")[1] == str(-(-dataset.size_bytes // (5 * 2**20)))  # one per part
    assert local_files(imagery_root) == []


# --- serving -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_tile_is_served_from_the_bucket(client, ingest, bucket, api_key, imagery_root, tmp_path):
    dataset = ingest(2024, source=solid_geotiff(tmp_path / "red.tif", (220, 40, 40)))
    assert local_files(imagery_root) == []  # nothing on local disk: the tile can only come from the bucket
    assert registry.lookup("aerial", 2024).path == storage.readable_path(dataset.path)
    red, green, blue = tile_colour(client, api_key[1])
    assert red > 180 and green < 80 and blue < 80
    tilejson = client.get(f"/tiles/aerial/2024/tilejson.json?token={api_key[1]}")
    assert tilejson.status_code == 200 and bucket not in tilejson.text  # the store is not the client's business


@pytest.mark.django_db(transaction=True)
def test_replacing_a_year_on_s3_serves_the_new_pixels_and_removes_the_old_object(
        client, ingest, bucket, s3_server, api_key, tmp_path, department):
    old = ingest(2024, source=solid_geotiff(tmp_path / "red.tif", (220, 40, 40)))
    assert tile_colour(client, api_key[1])[0] > 180  # this process has read (and GDAL cached) the old object
    replaced = run_ingest("--owner", department.code, "--collection", "aerial", "--year", "2024", "--replace",
                          str(solid_geotiff(tmp_path / "blue.tif", (40, 40, 220))),
                          env={**s3_environment(s3_server), "GEOPLATFORM_IMAGERY_S3_BUCKET": bucket,
                               "GEOPLATFORM_IMAGERY_S3_PREFIX": "imagery"})
    assert replaced.returncode == 0, replaced.stderr
    new = ImageryDataset.objects.get(pk=old.pk)
    assert new.path != old.path and new.path.startswith(f"s3://{bucket}/imagery/aerial/2024-")
    assert f"at {new.path}" in replaced.stdout
    assert s3_server.keys(bucket) == sorted(p.removeprefix(f"s3://{bucket}/") for p in (new.path, new.path_c))  # old gone
    time.sleep(registry_module.REMOTE_CHECK_SECONDS + 0.1)  # the registry looks again after this long
    red, green, blue = tile_colour(client, api_key[1])
    assert blue > 180 and red < 80


@pytest.mark.django_db(transaction=True)
def test_an_object_deleted_behind_the_registry_is_a_404_not_a_500(client, ingest, bucket, s3_server, api_key):
    dataset = ingest(2024)
    assert tile_colour(client, api_key[1])
    s3_server.client().delete_object(Bucket=bucket, Key=dataset.path.removeprefix(f"s3://{bucket}/"))
    time.sleep(registry_module.REMOTE_CHECK_SECONDS + 0.1)
    response = client.get(TILE_URL, headers={"Authorization": f"Bearer {api_key[1]}"})
    assert response.status_code == 404 and response.json()["detail"] == "no imagery aerial/2024"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variable, wrong, named", [
    ("AWS_SECRET_ACCESS_KEY", "wrong-secret-0123456789", "refused the credentials"),
    ("AWS_S3_ENDPOINT", "127.0.0.1:9", "cannot reach the object store at http://127.0.0.1:9"),
])
def test_tile_service_with_a_broken_store_answers_503_naming_the_cause(client, ingest, bucket, s3_server, api_key,
                                                                        monkeypatch, caplog, variable, wrong, named):
    ingest(2024)
    monkeypatch.setenv(variable, wrong)
    response = client.get(TILE_URL, headers={"Authorization": f"Bearer {api_key[1]}"})
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert named in detail and detail.startswith("object storage: looking for s3://")
    for secret in (wrong if variable.endswith("KEY") else "", s3_server.secret_key):
        assert (not secret or secret not in response.text) and (not secret or secret not in caplog.text)


# --- local disk and both together ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cog_whose_overview_is_one_tile_wide_is_accepted(ingest, imagery_root, tmp_path):
    """2000x2000 px over the test square: the COG is 2048x2560 with a 512x640 overview in 512x512 tiles, which
    rio-cogeo's validator used to call "not tiled" (GDAL's own validator accepts it); ingest refused such files."""
    dataset = ingest(2024, source=write_geotiff(tmp_path / "fine.tif", size=2000))
    with rasterio.open(imagery_root / dataset.path) as cog:
        levels = len(cog.overviews(1))
    with rasterio.open(imagery_root / dataset.path, OVERVIEW_LEVEL=levels - 1) as overview:
        assert overview.width == 512 < overview.height and overview.block_shapes[0] == (512, 512)


@pytest.mark.django_db(transaction=True)
def test_local_disk_still_works_and_keeps_serving_beside_s3_years(client, ingest, imagery_root, settings,
                                                                 s3_server, monkeypatch, api_key, tmp_path, capsys):
    local = ingest(2024, source=solid_geotiff(tmp_path / "red.tif", (220, 40, 40)))
    assert local.storage == "local" and local_files(imagery_root) == sorted([local.path, local.path_c])
    assert tile_colour(client, api_key[1])[0] > 180
    bucket = f"imagery-{uuid.uuid4().hex[:10]}"  # now configure a bucket: new years go there, 2024 stays put
    s3_server.client().create_bucket(Bucket=bucket)
    for variable, value in s3_environment(s3_server).items():
        monkeypatch.setenv(variable, value)
    settings.GEOPLATFORM_IMAGERY_S3_BUCKET = bucket
    remote = ingest(2025, source=solid_geotiff(tmp_path / "blue.tif", (40, 40, 220)))
    assert remote.storage == "s3" and local_files(imagery_root) == sorted([local.path, local.path_c])
    assert tile_colour(client, api_key[1])[0] > 180
    time.sleep(registry_module.MISS_RELOAD_SECONDS + 0.1)  # a year new to the registry is looked for after this
    blue = client.get(TILE_URL.replace("/2024/", "/2025/"), headers={"Authorization": f"Bearer {api_key[1]}"})
    assert blue.status_code == 200, blue.text
    call_command("imagery", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("aerial\t2024\t") and lines[1].endswith(f"\t{imagery_root / local.path}")
    assert lines[2].startswith("aerial\t2025\t") and lines[2].endswith(f"\t{remote.path}")
