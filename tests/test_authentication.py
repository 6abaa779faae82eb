"""Every way a client presents a key goes through one path; failures are 401 with a reason, never 500."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.auth import principal_from_credentials
from catalog.errors import KeyRejected
from catalog.keys import revoke_api_key
from catalog.models import ApiKey, User


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer_key_authenticates(client, api_key, department):
    _key, raw = api_key
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["department"]["code"] == department.code


def test_key_as_basic_password_authenticates_any_user_name(client, api_key):
    _key, raw = api_key
    response = client.get("/api/me", HTTP_AUTHORIZATION=basic("qgis", raw))
    assert response.status_code == 200
    assert response.json()["api_key"]["name"] == "test-app"


def test_no_credentials_is_401_with_challenge(client, db):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"] and "Basic" in response["WWW-Authenticate"]


def test_revoked_key_gets_401_with_reason(client, api_key):
    key, raw = api_key
    revoke_api_key(key.prefix)
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_expired_key_gets_401_with_reason(client, api_key):
    key, raw = api_key
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(days=1))
    response = client.get("/api/me", HTTP_AUTHORIZATION=basic("x", raw))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer a b", "Basic", "Basic !!!notbase64", basic("nopassword", ""),
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "Digest username=x", "Token abc", "\x00",
    "Bearer " + "x" * 10000,
])
def test_malformed_authorization_header_is_401_not_500(client, db, header):
    response = client.get("/api/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_token_parameter_refused_where_not_a_tile_url(client, api_key):
    _key, raw = api_key
    response = client.get("/api/me", {"token": raw})
    assert response.status_code == 401
    assert "tile and capabilities" in response.json()["detail"]


def test_token_parameter_goes_through_the_same_check(api_key):
    key, raw = api_key
    assert principal_from_credentials(None, raw, allow_query_token=True).api_key == key
    revoke_api_key(key.prefix)
    with pytest.raises(KeyRejected, match="revoked"):
        principal_from_credentials(None, raw, allow_query_token=True)


def test_session_login_reaches_the_api_as_the_users_department(client, department):
    User.objects.create_user("alice", password="s3cret-pass!", department=department)
    assert client.login(username="alice", password="s3cret-pass!")
    body = client.get("/api/me").json()
    assert body["user"] == "alice" and body["department"]["code"] == department.code


def test_department_directory_needs_a_key(client, api_key, other_department):
    _key, raw = api_key
    assert client.get("/api/departments/").status_code == 401
    codes = [d["code"] for d in client.get("/api/departments/", HTTP_AUTHORIZATION=f"Bearer {raw}").json()]
    assert codes == ["jtw", "swj"]
