"""Tile tokens: HMAC over department, key id, collection and expiry; anything altered or late is refused."""

from __future__ import annotations

import base64
import time

import pytest

from tiles.tokens import PREFIX, TileTokenRejected, is_tile_token, issue_tile_token, verify_tile_token


def test_a_token_names_who_and_what_until_when():
    now = time.time()
    claims = verify_tile_token(issue_tile_token("jtw", "abcd2345", "aerial", hours=12, now=now))
    assert (claims.department.code, claims.api_key.prefix, claims.slug) == ("jtw", "abcd2345", "aerial")
    assert claims.expires == int(now + 12 * 3600)


def test_default_lifetime_comes_from_the_setting(settings):
    settings.GEOPLATFORM_IMAGERY_TOKEN_HOURS = 1
    claims = verify_tile_token(issue_tile_token("jtw", "abcd2345", "aerial", now=1000.0), now=1000.0)
    assert claims.expires == 1000 + 3600


def test_expired_token_is_refused_with_the_time():
    token = issue_tile_token("jtw", "abcd2345", "aerial", hours=1, now=0)
    with pytest.raises(TileTokenRejected, match="tile token expired at 1970-01-01 01:00 UTC"):
        verify_tile_token(token, now=3600)


def test_changed_claims_break_the_signature():
    token = issue_tile_token("jtw", "abcd2345", "aerial", hours=1)
    payload, signature = token[len(PREFIX):].split(".")
    claims = base64.urlsafe_b64decode(payload + "==").decode().replace("aerial", "secret")
    forged = PREFIX + base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=") + "." + signature
    with pytest.raises(TileTokenRejected, match="invalid tile token signature"):
        verify_tile_token(forged)


def test_token_signed_with_another_secret_is_refused(settings):
    token = issue_tile_token("jtw", "abcd2345", "aerial", hours=1)
    settings.SECRET_KEY = "another installation"
    with pytest.raises(TileTokenRejected, match="invalid tile token signature"):
        verify_tile_token(token)


@pytest.mark.parametrize("token", [PREFIX, PREFIX + "!!!.x", PREFIX + "abc", "gp_abcd2345_x"])
def test_malformed_tokens_are_refused_not_crashed(token):
    with pytest.raises(TileTokenRejected):
        verify_tile_token(token)


def test_tile_tokens_are_told_apart_from_api_keys():
    assert is_tile_token(issue_tile_token("jtw", "", "aerial", hours=1))
    assert not is_tile_token("gp_abcd2345_" + "x" * 43) and not is_tile_token(None)
