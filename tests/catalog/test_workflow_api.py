"""The sharing workflow end to end through the API: apply, check, approve, use, revoke, refuse, dispute."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.keys import create_api_key, revoke_api_key
from catalog.models import ApiKey, AuditEvent, Grant, Notification


def call(client, city, who, method, path, body=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {city.keys[who]}"} if who else {}
    return getattr(client, method)(path, body, content_type="application/json", **headers)


def apply(client, city, who="stranger", **overrides):
    body = {"entries": ["businesses-application"], "purpose": "体育场馆周边企业安全检查",
            "legal_basis": "《安全生产法》", "fields": ["name", "credit_code", "employees"], "days": 90}
    return call(client, city, who, "post", "/api/applications/", {**body, **overrides})


def test_application_end_to_end(client, city):
    response = apply(client, city)
    assert response.status_code == 201, response.content
    app = response.json()
    assert app["status"] == "submitted"
    assert Notification.objects.filter(department=city.departments["authority"], kind="application_received")
    assert call(client, city, "owner", "post", f"/api/applications/{app['id']}/approve", {}).status_code == 409

    checked = call(client, city, "authority", "post", f"/api/applications/{app['id']}/check", {"conforming": True})
    assert checked.status_code == 200 and checked.json()["status"] == "checked"

    approved = call(client, city, "owner", "post", f"/api/applications/{app['id']}/approve",
                    {"fields": ["name", "credit_code"], "days": 30,
                     "transforms": {"credit_code": {"kind": "mask", "keep_last": 4}}})
    assert approved.status_code == 200, approved.content
    item = approved.json()["items"][0]
    assert item["decision"] == "approved" and approved.json()["status"] == "decided"
    grant = Grant.objects.get(pk=item["grant"])
    assert grant.fields == ["name", "credit_code"]
    assert timedelta(days=29) < grant.valid_to - timezone.now() <= timedelta(days=30)
    assert Notification.objects.filter(department=city.departments["stranger"], kind="application_decided")

    from catalog.access import Action, authorize

    decision = authorize(city.request("stranger"), "businesses-application", Action.READ)
    assert decision.grant_id == grant.pk and decision.visible_fields == ["name", "credit_code"]

    grants = call(client, city, "stranger", "get", "/api/grants/").json()
    assert [g["id"] for g in grants] == [grant.pk]
    assert call(client, city, "stranger", "post", f"/api/grants/{grant.pk}/revoke", {}).status_code == 403
    assert call(client, city, "owner", "post", f"/api/grants/{grant.pk}/revoke", {"reason": "职能调整"}).status_code == 200
    from catalog.errors import AccessDenied

    with pytest.raises(AccessDenied, match="revoked"):
        authorize(city.request("stranger"), "businesses-application", Action.READ)


def checked_application(client, city, **overrides) -> int:
    app_id = apply(client, city, **overrides).json()["id"]
    call(client, city, "authority", "post", f"/api/applications/{app_id}/check", {"conforming": True})
    return app_id


def test_approval_by_a_department_that_is_not_the_owner_is_403(client, city):
    app_id = checked_application(client, city)
    for who in ("stranger", "granted", "authority"):
        response = call(client, city, who, "post", f"/api/applications/{app_id}/approve", {})
        assert response.status_code in (403, 404), who
    assert call(client, city, "granted", "post", f"/api/applications/{app_id}/approve", {}).status_code == 404
    assert AuditEvent.objects.filter(action="approve", allowed=False).exists()


def test_approving_fields_not_in_the_schema_is_400(client, city):
    app_id = checked_application(client, city)
    response = call(client, city, "owner", "post", f"/api/applications/{app_id}/approve", {"fields": ["salary"]})
    assert response.status_code == 400 and "salary" in response.json()["detail"]


def test_approval_may_narrow_but_not_widen(client, city):
    app_id = checked_application(client, city, fields=["name"], days=10)
    assert call(client, city, "owner", "post", f"/api/applications/{app_id}/approve",
                {"fields": ["name", "address"]}).status_code == 400
    assert call(client, city, "owner", "post", f"/api/applications/{app_id}/approve", {"days": 20}).status_code == 400


def test_applying_for_unknown_fields_or_entries(client, city):
    assert apply(client, city, fields=["nope"]).status_code == 400
    assert apply(client, city, entries=["no-such-entry"]).status_code == 404
    assert apply(client, city, entries=["businesses-unlisted"]).status_code == 404
    assert apply(client, city, entries=["businesses-open"]).status_code == 400
    assert apply(client, city, purpose="").status_code == 400


def test_refusal_needs_reasons_and_can_be_disputed_and_settled(client, city):
    app_id = checked_application(client, city)
    path = f"/api/applications/{app_id}"
    assert call(client, city, "owner", "post", f"{path}/reject", {"reason": ""}).status_code == 400
    rejected = call(client, city, "owner", "post", f"{path}/reject", {"reason": "涉及商业秘密"})
    assert rejected.json()["items"][0]["reason"] == "涉及商业秘密"
    disputed = call(client, city, "stranger", "post", f"{path}/items/businesses-application/dispute",
                    {"note": "属于法定职责"})
    assert disputed.json()["items"][0]["decision"] == "disputed"
    assert call(client, city, "owner", "post", f"{path}/items/businesses-application/settle",
                {"uphold_refusal": False}).status_code == 403
    settled = call(client, city, "authority", "post", f"{path}/items/businesses-application/settle",
                   {"uphold_refusal": False, "note": "应予共享"})
    assert settled.json()["items"][0]["decision"] == "pending" and settled.json()["status"] == "checked"
    assert call(client, city, "owner", "post", f"{path}/approve", {}).status_code == 200


def test_applicant_can_withdraw_others_cannot(client, city):
    app_id = apply(client, city).json()["id"]
    assert call(client, city, "owner", "post", f"/api/applications/{app_id}/withdraw", {}).status_code == 403
    response = call(client, city, "stranger", "post", f"/api/applications/{app_id}/withdraw", {})
    assert response.json()["status"] == "withdrawn"


def test_nonconforming_application_is_returned_with_a_note(client, city):
    app_id = apply(client, city).json()["id"]
    assert call(client, city, "authority", "post", f"/api/applications/{app_id}/check",
                {"conforming": False}).status_code == 400
    response = call(client, city, "authority", "post", f"/api/applications/{app_id}/check",
                    {"conforming": False, "note": "用途与职能不符"})
    assert response.json()["status"] == "nonconforming"
    assert call(client, city, "stranger", "post", f"/api/applications/{app_id}/check",
                {"conforming": True}).status_code == 403


def test_grant_for_named_keys_only(client, city):
    app_id = checked_application(client, city)
    key, raw = create_api_key(city.departments["stranger"], "inspection-app")
    call(client, city, "owner", "post", f"/api/applications/{app_id}/approve", {"api_keys": [f"gp_{key.prefix}"]})
    from catalog.access import Action, authorize
    from catalog.errors import AccessDenied

    assert authorize(city.factory.get("/", HTTP_AUTHORIZATION=f"Bearer {raw}"), "businesses-application",
                     Action.READ).allowed
    with pytest.raises(AccessDenied, match="does not cover"):
        authorize(city.request("stranger"), "businesses-application", Action.READ)


@pytest.mark.parametrize("state", ["missing", "forged", "revoked", "expired"])
def test_catalog_api_needs_a_valid_key(client, city, state):
    raw = city.keys["stranger"]
    if state == "revoked":
        revoke_api_key(raw)
    if state == "expired":
        ApiKey.objects.filter(department=city.departments["stranger"]).update(
            expires_at=timezone.now() - timedelta(hours=1))
    headers = {} if state == "missing" else {
        "HTTP_AUTHORIZATION": f"Bearer {raw[:-4] + 'AAAA' if state == 'forged' else raw}"}
    assert client.get("/api/catalog/", **headers).status_code == 401
    assert client.get("/api/catalog/", HTTP_AUTHORIZATION=f"Bearer {city.keys['granted']}").status_code == 200


def test_audit_api_shows_own_department_rows(client, city):
    call(client, city, "stranger", "get", "/api/catalog/businesses-open/")
    call(client, city, "granted", "get", "/api/catalog/businesses-open/")
    mine = call(client, city, "stranger", "get", "/api/audit/").json()["results"]
    assert mine and {r["department"] for r in mine} == {"stranger"}
    owner_view = call(client, city, "owner", "get", "/api/audit/?entry=businesses-open").json()["results"]
    assert {"stranger", "granted"} <= {r["department"] for r in owner_view}


def test_owner_edits_metadata_others_cannot(client, city):
    path = "/api/catalog/businesses-open/"
    assert call(client, city, "stranger", "patch", path, {"abstract": "x"}).status_code == 403
    response = call(client, city, "owner", "patch", path, {"abstract": "全市企业", "cadence": "monthly:5"})
    assert response.status_code == 200 and response.json()["abstract"] == "全市企业"
    assert call(client, city, "owner", "patch", path, {"sharing": "unlisted"}).status_code == 400
    assert call(client, city, "owner", "patch", path, {"cadence": "sometimes"}).status_code == 400
    assert call(client, city, "owner", "patch", path,
                {"fields": [{"name": "name", "sensitivity": "secret"}]}).status_code == 400


def test_usage_statistics_per_entry_department_and_day(client, city):
    from catalog.access import Action, authorize

    for _ in range(2):
        authorize(city.request("granted"), "businesses-application", Action.READ)
    authorize(city.request("granted"), "businesses-application", Action.READ, tile=True)
    body = call(client, city, "owner", "get", "/api/usage/?days=1").json()
    reads = [r for r in body["requests"] if r["entry"] == "businesses-application" and r["department"] == "granted"]
    assert reads[0]["requests"] == 2 and reads[0]["denied"] == 0
    assert body["tiles"][0]["requests"] == 1
    assert call(client, city, "stranger", "get", "/api/usage/").json()["requests"] == []
