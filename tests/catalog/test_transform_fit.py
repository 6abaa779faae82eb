"""An approval whose field transform does not fit the field's type is refused with a 400 that says what fits."""

import pytest

from catalog.models import Application, AuditEvent, Grant

from .test_workflow_api import call, checked_application


def approve(client, city, app_id, transforms):
    return call(client, city, "owner", "post", f"/api/applications/{app_id}/approve",
                {"fields": ["name", "credit_code", "employees"], "days": 30, "transforms": transforms})


@pytest.mark.parametrize(("field", "transform", "type_", "fitting"), [
    ("name", {"kind": "range", "step": 100}, "string", "clear, mask, status"),
    ("credit_code", {"kind": "year"}, "string", "clear, mask, status"),
    ("employees", {"kind": "year"}, "integer", "clear, mask, range, status"),
])
def test_transform_that_does_not_fit_the_field_type_gets_400(client, city, field, transform, type_, fitting):
    app_id = checked_application(client, city)
    response = approve(client, city, app_id, {field: transform})
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert f"field {field!r} is of type {type_}" in detail
    assert f"a {transform['kind']!r} transform does not fit it" in detail
    assert f"transforms that fit {type_} fields: {fitting}" in detail
    assert "businesses-application" in detail
    assert not Grant.objects.filter(item__application_id=app_id).exists()
    assert Application.objects.get(pk=app_id).status == Application.Status.CHECKED, "still awaiting an answer"
    assert AuditEvent.objects.filter(action="approve", allowed=False, reason=detail).exists()


def test_refused_approval_can_be_sent_again_with_transforms_that_fit(client, city):
    app_id = checked_application(client, city)
    assert approve(client, city, app_id, {"name": {"kind": "range", "step": 100}}).status_code == 400
    fitting = {"name": {"kind": "mask", "keep_last": 2}, "employees": {"kind": "range", "step": 10},
               "credit_code": {"kind": "status"}}
    response = approve(client, city, app_id, fitting)
    assert response.status_code == 200, response.content
    grant = Grant.objects.get(pk=response.json()["items"][0]["grant"])
    assert grant.transforms == fitting


@pytest.mark.parametrize("transform", [{"kind": "mask", "keep_last": True}, {"kind": "range", "step": "10"},
                                       {"kind": "shuffle"}])
def test_malformed_transform_gets_400(client, city, transform):
    app_id = checked_application(client, city)
    response = approve(client, city, app_id, {"employees": transform})
    assert response.status_code == 400
    assert "transform" in response.json()["detail"] or "must be" in response.json()["detail"]
