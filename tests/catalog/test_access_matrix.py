"""The access matrix: every caller state x action x sharing type, its answer, and an audit row for each."""

import pytest

from catalog.access import Action, authorize
from catalog.errors import AccessDenied, EntryNotFound, NotAuthenticated
from catalog.models import AuditEvent

WHO = [None, "stranger", "pending", "granted", "expired", "revoked", "owner"]
ACTIONS = [Action.DISCOVER, Action.READ, Action.DOWNLOAD, Action.PUBLISH]
SHARING = ["open", "application", "unlisted"]


def expected(who: str | None, action: Action, sharing: str) -> bool:
    """The rules, written out once more in the plainest terms."""
    if who is None:
        return False
    if who == "owner":
        return True
    if action == Action.PUBLISH or sharing == "unlisted":
        return False
    if sharing == "open" or action == Action.DISCOVER:
        return True
    return who == "granted"


@pytest.mark.parametrize("sharing", SHARING)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", WHO)
def test_access_matrix(city, who, action, sharing):
    entry = city.entries[sharing]
    before = AuditEvent.objects.count()
    allowed = expected(who, action, sharing)
    if allowed:
        decision = authorize(city.request(who), entry, action)
        assert decision.allowed
    else:
        error = NotAuthenticated if who is None else (EntryNotFound if sharing == "unlisted" and action ==
                                                      Action.DISCOVER else AccessDenied)
        with pytest.raises(error):
            authorize(city.request(who), entry, action)
    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.last()
    assert (row.allowed, row.action, row.entry) == (allowed, str(action), entry.slug)
    assert row.department == (city.departments[who].code if who else "")


def test_denials_say_why(city):
    entry = city.entries["application"]
    reasons = {}
    for who in ("stranger", "pending", "expired", "revoked"):
        with pytest.raises(AccessDenied) as caught:
            authorize(city.request(who), entry, Action.READ)
        reasons[who] = str(caught.value)
    assert "apply to 市市场监督管理局" in reasons["stranger"]
    assert f"application #{city.pending_application.pk}" in reasons["pending"]
    assert "expired at" in reasons["expired"]
    assert "revoked at" in reasons["revoked"]
    with pytest.raises(AccessDenied, match="only the owner department"):
        authorize(city.request("granted"), entry, Action.PUBLISH)


def test_expired_grant_message_names_the_expiry_date(city):
    from django.utils import timezone

    from catalog.models import Grant

    grant = Grant.objects.get(department=city.departments["expired"], entry=city.entries["application"])
    with pytest.raises(AccessDenied, match=f"expired at {timezone.localtime(grant.valid_to):%Y-%m-%d}"):
        authorize(city.request("expired"), city.entries["application"], Action.DOWNLOAD)


def test_unknown_entry_is_404_and_audited(city):
    with pytest.raises(EntryNotFound):
        authorize(city.request("granted"), "no-such-layer", Action.READ)
    row = AuditEvent.objects.last()
    assert (row.entry, row.allowed) == ("no-such-layer", False)


def test_grant_limited_to_named_keys(city):
    from catalog.keys import create_api_key
    from catalog.models import Grant

    granted = city.departments["granted"]
    grant = Grant.objects.get(department=granted, entry=city.entries["application"])
    other_key, other_raw = create_api_key(granted, "second-app")
    first_key = granted.api_keys.get(name="app")
    grant.api_keys.set([first_key])
    assert authorize(city.request("granted"), city.entries["application"], Action.READ).grant_id == grant.pk
    request = city.factory.get("/", HTTP_AUTHORIZATION=f"Bearer {other_raw}")
    with pytest.raises(AccessDenied, match=f"does not cover API key gp_{other_key.prefix}"):
        authorize(request, city.entries["application"], Action.READ)


def test_read_decision_carries_fields_and_masking(city):
    from catalog.models import Grant

    grant = Grant.objects.get(department=city.departments["granted"], entry=city.entries["application"])
    grant.fields = ["name", "credit_code"]
    grant.transforms = {"credit_code": {"kind": "mask", "keep_last": 6}}
    grant.save()
    decision = authorize(city.request("granted"), city.entries["application"], Action.READ)
    assert decision.visible_fields == ["name", "credit_code"]
    assert decision.transforms["credit_code"] == {"kind": "mask", "keep_last": 6}
    assert decision.transforms["employees"] == {"kind": "status"}
    open_read = authorize(city.request("stranger"), city.entries["open"], Action.READ)
    assert open_read.transforms["credit_code"]["kind"] == "mask", "open entries still mask sensitive fields"
    owner_read = authorize(city.request("owner"), city.entries["open"], Action.READ)
    assert owner_read.transforms == {} and owner_read.visible_fields is None
