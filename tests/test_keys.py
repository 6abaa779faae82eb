"""API keys: stored hashed, shown once, expire, can be revoked."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.errors import KeyRejected
from catalog.keys import create_api_key, revoke_api_key, verify_api_key
from catalog.models import ApiKey


def test_key_is_stored_only_as_its_hash(department):
    key, raw = create_api_key(department, "gis-app")
    row = ApiKey.objects.values().get(pk=key.pk)
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    secret = raw.split("_", 2)[2]
    assert all(secret not in str(value) for value in row.values())
    assert raw.startswith(f"gp_{key.prefix}_")


def test_valid_key_names_its_department(api_key, department):
    key, raw = api_key
    assert verify_api_key(raw).department == department


def test_key_with_wrong_secret_is_unknown(api_key):
    _key, raw = api_key
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with pytest.raises(KeyRejected, match="unknown API key"):
        verify_api_key(tampered)


@pytest.mark.parametrize("raw", ["", "gp_", "gp_abc_def", "Bearer x", "gp_ABCDEFGH_" + "a" * 43, "x" * 5000])
def test_malformed_key_is_rejected(db, raw):
    with pytest.raises(KeyRejected, match="malformed"):
        verify_api_key(raw)


def test_expired_key_is_rejected_with_its_expiry(department):
    key, raw = create_api_key(department, "short-lived", expires_days=1)
    assert verify_api_key(raw) == key
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(KeyRejected, match=f"gp_{key.prefix} expired at"):
        verify_api_key(raw)


def test_revoked_key_is_rejected(api_key):
    key, raw = api_key
    revoke_api_key(f"gp_{key.prefix}")
    with pytest.raises(KeyRejected, match="revoked"):
        verify_api_key(raw)


def test_revoke_by_full_key_and_unknown_id(api_key):
    key, raw = api_key
    assert revoke_api_key(raw).pk == key.pk
    with pytest.raises(ApiKey.DoesNotExist):
        revoke_api_key("gp_zzzzzzzz")


def test_expiry_must_be_positive(department):
    with pytest.raises(ValueError):
        create_api_key(department, "bad", expires_days=0)


def test_use_records_last_used(api_key):
    key, raw = api_key
    assert key.last_used_at is None
    verify_api_key(raw)
    key.refresh_from_db()
    assert key.last_used_at is not None
