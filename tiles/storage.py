"""Where imagery COGs live: the imagery folder on local disk (the default), or an S3-compatible bucket.

One notion of a COG's *location*, the string a registry row keeps (``ImageryDataset.path``):

- ``aerial/2024-0123456789ab.tif``: a path relative to the imagery folder (GEOPLATFORM_IMAGERY_DIR);
- ``s3://bucket/prefix/aerial/2024-0123456789ab.tif``: an object, written when GEOPLATFORM_IMAGERY_S3_BUCKET is
  set (under GEOPLATFORM_IMAGERY_S3_PREFIX). Rows written before keep their place: each row says where it is.

A location never holds a credential. The endpoint and the keys come from the environment under the names GDAL's
``/vsis3/`` reads (AWS_S3_ENDPOINT, AWS_HTTPS, AWS_VIRTUAL_HOSTING, AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), so ingest and the tile service are configured once.

The tile service reads through GDAL: rasterio opens ``/vsis3/bucket/key`` and reads the COG by range requests.
Uploads, existence checks and deletes go through boto3 with the same settings translated (:func:`s3_settings`):
GDAL's copy as rasterio exposes it (``rasterio.shutil.copyfiles``) reported success for uploads the server had
refused with a 403 (GDAL 3.10 against moto), and GDAL's stat answers from a per-process cache that never sees
another process delete an object. boto3 raises the server's error code, and an object it uploads appears whole
or not at all (a single PUT, or a multipart upload that is aborted when interrupted).
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import CatalogError
from catalog.redact import redact
from tiles import conf

log = logging.getLogger(__name__)

S3_SCHEME = "s3://"
VSI_PREFIX = "/vsis3/"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
MULTIPART_BYTES = 64 * 2**20
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class StorageError(CatalogError):
    """The object store cannot be used (missing bucket, refused credentials, unreachable, upload cut off).

    503: the request was fine, the platform's storage is not. The message names the cause and the setting to
    check, never a credential.
    """

    status = 503


@dataclass(frozen=True)
class S3Settings:
    """What boto3 needs to reach the store GDAL's /vsis3/ is configured for."""

    endpoint_url: str | None  # None: Amazon S3 itself
    addressing_style: str  # "virtual" (bucket.host) or "path" (host/bucket)
    region: str

    @property
    def where(self) -> str:
        return self.endpoint_url or "Amazon S3"


def _gdal_bool(raw: str | None, default: bool) -> bool:
    """GDAL's reading of a boolean config option (CPLTestBool): NO, FALSE, OFF and 0 are false."""
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().upper() not in ("NO", "FALSE", "OFF", "0")


def s3_settings(environ: Mapping[str, str]) -> S3Settings:
    """boto3's view of GDAL's /vsis3/ options: AWS_S3_ENDPOINT is ``host[:port]`` (or a URL), AWS_HTTPS (YES)
    picks the scheme, AWS_VIRTUAL_HOSTING (TRUE) the addressing style, AWS_REGION the region (us-east-1)."""
    endpoint = environ.get("AWS_S3_ENDPOINT", "").strip().rstrip("/")
    if endpoint and "://" not in endpoint:
        endpoint = ("https://" if _gdal_bool(environ.get("AWS_HTTPS"), True) else "http://") + endpoint
    style = "virtual" if _gdal_bool(environ.get("AWS_VIRTUAL_HOSTING"), True) else "path"
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return S3Settings(endpoint or None, style, region)


def is_remote(location: str) -> bool:
    """Whether a location (or a GDAL path from :func:`readable_path`) names an object in a bucket."""
    return location.startswith((S3_SCHEME, VSI_PREFIX))


def split_remote(location: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key`` or ``/vsis3/bucket/key``."""
    rest = location.removeprefix(S3_SCHEME) if location.startswith(S3_SCHEME) else location.removeprefix(VSI_PREFIX)
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"{location!r} names no object (s3://bucket/key)")
    return bucket, key


def new_location(collection: str, year: int) -> str:
    """Where a new COG of ``collection``/``year`` goes: a fresh name (a replaced year never overwrites the file
    tiles are being read from), in the bucket when one is configured, else under the imagery folder."""
    name = f"{collection}/{year}-{uuid.uuid4().hex[:12]}.tif"
    bucket = conf.imagery_s3_bucket()
    if not bucket:
        return name
    prefix = conf.imagery_s3_prefix().strip("/")
    return f"{S3_SCHEME}{bucket}/{prefix + '/' if prefix else ''}{name}"


def readable_path(location: str) -> str:
    """What GDAL opens for a location: ``/vsis3/bucket/key``, or the file's absolute path."""
    if location.startswith(S3_SCHEME):
        return VSI_PREFIX + location.removeprefix(S3_SCHEME)
    return str(conf.imagery_dir() / location)


def describe(location: str) -> str:
    """Where a year lives, for people (``geoplatform imagery list``): the object's URL or the file's path."""
    return location if is_remote(location) else readable_path(location)


def scratch_file() -> Path:
    """The local file the COG is built and validated in before :func:`publish` puts it at ``location``.

    Under the imagery folder in both cases, so that publishing a local COG is a rename on one file system.
    """
    return conf.imagery_dir() / ".scratch" / f"{uuid.uuid4().hex}.tif"


def publish(cog: Path, location: str) -> None:
    """Put the validated COG at its location: a rename into the imagery folder, or an upload to the bucket.

    On any failure nothing is left at ``location`` (a partial upload is removed) and StorageError says why.
    """
    if not is_remote(location):
        target = conf.imagery_dir() / location
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(cog, target)
        return
    bucket, key = split_remote(location)
    client, settings = _client()
    size = cog.stat().st_size
    try:  # one PUT, or a multipart upload that boto3 aborts when it fails: no partial object either way
        client.upload_file(str(cog), bucket, key, ExtraArgs={"ContentType": COG_MEDIA_TYPE},
                           Config=_transfer_config())
    except Exception as exc:
        raise _storage_error(exc, settings, bucket, f"uploading the COG to {location}") from None
    try:
        stored = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except Exception as exc:
        _remove_quietly(client, bucket, key)
        raise _storage_error(exc, settings, bucket, f"uploading the COG to {location}") from None
    if stored != size:
        _remove_quietly(client, bucket, key)
        raise StorageError(f"object storage: the upload to {location} stored {stored} of {size} bytes; it was "
                           "removed and nothing was registered: run the ingest again")


def check_destination() -> None:
    """Before a long COG conversion: the configured bucket exists and answers (nothing to check on local disk)."""
    bucket = conf.imagery_s3_bucket()
    if bucket:
        client, settings = _client()
        try:
            _check_bucket(client, bucket)
        except Exception as exc:
            raise _storage_error(exc, settings, bucket, f"checking the destination {S3_SCHEME}{bucket}") from None


def exists(path: str) -> bool:
    """Whether the COG at a location or GDAL path is there now (a HEAD request for an object, not GDAL's cache).

    A bucket that is missing, refuses the credentials or cannot be reached is a StorageError, not False:
    "the file is gone" makes the registry reload, a broken store must be reported.
    """
    if not is_remote(path):
        return os.path.isfile(path if os.path.isabs(path) else readable_path(path))
    bucket, key = split_remote(path)
    client, settings = _client()
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except Exception as exc:
        if _status(exc) != 404:
            raise _storage_error(exc, settings, bucket, f"looking for {S3_SCHEME}{bucket}/{key}") from None
    try:  # a 404 to a HEAD has no body: is it the object or the whole bucket?
        _check_bucket(client, bucket)
    except Exception as exc:
        raise _storage_error(exc, settings, bucket, f"looking for {S3_SCHEME}{bucket}/{key}") from None
    return False


def remove(location: str) -> None:
    """Delete a COG that is no longer registered (a replaced year, or one whose registration failed)."""
    if not is_remote(location):
        (conf.imagery_dir() / location).unlink(missing_ok=True)
        return
    bucket, key = split_remote(location)
    client, settings = _client()
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise _storage_error(exc, settings, bucket, f"deleting {location}") from None


def _remove_quietly(client, bucket: str, key: str) -> None:
    """Best effort after a failed upload: the object should not exist; if the store cannot even be asked, the
    object was never written (or is an incomplete multipart upload, which no reader sees)."""
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - the upload's own error is the one to report
        log.warning("could not remove s3://%s/%s after a failed upload: %s", bucket, key, type(exc).__name__)


def _credentials_seen() -> tuple[str, ...]:
    return tuple(os.environ.get(name, "") for name in CREDENTIAL_VARIABLES)


def _client():
    """A boto3 S3 client for the current environment (one per settings and credentials, shared by threads)."""
    settings = s3_settings(os.environ)
    return _cached_client(settings, _credentials_seen()), settings


@functools.lru_cache(maxsize=8)
def _cached_client(settings: S3Settings, _credentials: tuple[str, ...]):
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": settings.addressing_style}, region_name=settings.region,
                    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                    # S3-compatible stores (MinIO, Ceph) differ on the newer default checksums; the size of each
                    # upload is verified afterwards instead
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    # credentials: boto3's chain reads the same AWS_* variables and ~/.aws files GDAL reads
    return boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url, config=config)


def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES, max_concurrency=4)


class _MissingBucket(Exception):
    pass


def _check_bucket(client, bucket: str) -> None:
    """MissingBucket when the bucket is not there. A 403 passes: a key may write objects without the right to
    list the bucket (which HEAD asks for); wrong credentials are reported by the request that needs them."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        if _status(exc) == 404:
            raise _MissingBucket(bucket) from exc
        if _status(exc) != 403:
            raise


def _error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore error, also when boto3's transfer manager wrapped it."""
    seen = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return ""


def _status(exc: BaseException) -> int | None:
    seen = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        seen = seen.__cause__ or seen.__context__
    return None


def _scrub(text: str) -> str:
    """A message safe to show and log: credentials redacted, including the configured keys' own values."""
    text = redact(text)
    for value in _credentials_seen():
        if len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text


def _storage_error(exc: BaseException, settings: S3Settings, bucket: str, doing: str) -> StorageError:
    """A StorageError naming what failed and what to check; the server's own wording only when unrecognised."""
    from botocore import exceptions as boto

    code, status, where = _error_code(exc), _status(exc), settings.where
    if code == "NoSuchBucket" or isinstance(exc, _MissingBucket):
        why = (f"bucket {bucket!r} does not exist at {where}: create it, or set GEOPLATFORM_IMAGERY_S3_BUCKET "
               "to an existing bucket")
    elif code == "InvalidAccessKeyId":
        why = f"{where} does not know the access key in AWS_ACCESS_KEY_ID: check it"
    elif code == "SignatureDoesNotMatch":
        why = f"{where} refused the signature: AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID"
    elif code in ("AccessDenied", "403", "Forbidden", "InvalidToken", "ExpiredToken") or status == 403:
        answer = f"HTTP 403 {code}" if code and code != "403" else "HTTP 403"
        why = (f"{where} refused the credentials ({answer}) for bucket {bucket!r}: check AWS_ACCESS_KEY_ID, "
               "AWS_SECRET_ACCESS_KEY and the key's permissions on the bucket")
    elif isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        why = "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    elif isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError):
        why = f"cannot reach the object store at {where}: check AWS_S3_ENDPOINT and AWS_HTTPS"
    elif isinstance(exc, boto.ConnectionClosedError | boto.ReadTimeoutError | boto.ResponseStreamingError
                    | boto.HTTPClientError) or _is_connection_error(exc):
        why = f"the connection to {where} was cut off"
    else:
        detail = f"{code} (HTTP {status})" if code else f"{type(exc).__name__}: {exc}"
        why = f"{where} answered {detail}"
    if doing.startswith("uploading"):
        why += "; nothing was registered and the previous year, if any, is unchanged"
    return StorageError(_scrub(f"object storage: {doing} failed: {why}"))


def _is_connection_error(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
