"""Bodies of the dispute, settle and revoke steps: anything but an object with the right types is a 400, never a 500."""

import pytest

from catalog.models import ApplicationItem, Grant

from .test_workflow_api import call, checked_application


@pytest.fixture
def disputed(client, city) -> str:
    """The path of a refused, disputed item, ready for the data authority to settle."""
    app_id = checked_application(client, city)
    call(client, city, "owner", "post", f"/api/applications/{app_id}/reject", {"reason": "涉及商业秘密"})
    path = f"/api/applications/{app_id}/items/businesses-application"
    assert call(client, city, "stranger", "post", f"{path}/dispute", {"note": "属于法定职责"}).status_code == 200
    return path


@pytest.mark.parametrize("body", [[1, 2], "\"settle\"", 5])
def test_body_that_is_not_an_object_gets_400(client, city, disputed, body):
    response = call(client, city, "authority", "post", f"{disputed}/settle", body)
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["detail"]


@pytest.mark.parametrize(("uphold", "decision"), [("false", "pending"), ("0", "pending"), (False, "pending"),
                                                  ("true", "rejected"), (True, "rejected")])
def test_uphold_refusal_read_as_a_boolean_even_as_text(client, city, disputed, uphold, decision):
    response = call(client, city, "authority", "post", f"{disputed}/settle", {"uphold_refusal": uphold})
    assert response.status_code == 200, response.content
    assert ApplicationItem.objects.get(entry__slug="businesses-application",
                                       application__applicant__code="stranger").decision == decision


@pytest.mark.parametrize("uphold", ["maybe", None, [True]])
def test_uphold_refusal_that_is_not_a_boolean_gets_400(client, city, disputed, uphold):
    response = call(client, city, "authority", "post", f"{disputed}/settle", {"uphold_refusal": uphold})
    assert response.status_code == 400
    assert "uphold_refusal must be true or false" in response.json()["detail"]
    assert ApplicationItem.objects.get(entry__slug="businesses-application",
                                       application__applicant__code="stranger").decision == "disputed"


def test_note_that_is_not_text_gets_400(client, city, disputed):
    response = call(client, city, "authority", "post", f"{disputed}/settle", {"note": {"a": 1}})
    assert response.status_code == 400 and "note must be text" in response.json()["detail"]


@pytest.mark.parametrize(("body", "message"), [([1], "must be a JSON object"), ({"reason": 7}, "reason must be text")])
def test_revoke_with_a_malformed_body_gets_400_and_keeps_the_grant(client, city, body, message):
    grant = Grant.objects.filter(department=city.departments["granted"], revoked_at__isnull=True).first()
    response = call(client, city, "owner", "post", f"/api/grants/{grant.pk}/revoke", body)
    assert response.status_code == 400 and message in response.json()["detail"]
    grant.refresh_from_db()
    assert grant.revoked_at is None
