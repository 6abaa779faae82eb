"""The audit log is append-only in the database and tamper-evident through its hash chain."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from catalog.access import Action, authorize
from catalog.audit import append_event, verify_chain
from catalog.errors import AccessDenied
from catalog.models import AuditEvent


def make_rows(city, n=5):
    for _ in range(n):
        authorize(city.request("owner"), city.entries["open"], Action.READ, purpose="巡查")
        with pytest.raises(AccessDenied):
            authorize(city.request("stranger"), city.entries["application"], Action.READ)


@pytest.mark.parametrize("statement", ["UPDATE catalog_auditevent SET allowed = true",
                                       "DELETE FROM catalog_auditevent"])
def test_database_refuses_update_and_delete(city, statement):
    make_rows(city, 1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 2


def test_rows_record_who_what_and_where(city):
    request = city.request("owner", path="/ogc/collections/x/items?limit=5", REMOTE_ADDR="10.1.2.3",
                           HTTP_X_REQUEST_ID="req-42")
    decision = authorize(request, city.entries["open"], Action.READ, purpose="巡查")
    row = AuditEvent.objects.get(pk=decision.audit_id)
    assert row.department == "owner" and row.api_key and row.purpose == "巡查"
    assert (row.client, row.request_id, row.path) == ("10.1.2.3", "req-42", "/ogc/collections/x/items?limit=5")


def test_intact_chain_verifies(city):
    make_rows(city)
    report = verify_chain(batch=3)
    assert report.ok and report.rows == 10


def tamper(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE catalog_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE catalog_auditevent ENABLE TRIGGER audit_event_append_only")


def test_altered_row_is_named(city):
    make_rows(city)
    victim = AuditEvent.objects.filter(allowed=False).order_by("id")[2]
    tamper("UPDATE catalog_auditevent SET allowed = true WHERE id = %s", [victim.pk])
    report = verify_chain()
    assert not report.ok and report.first_bad_id == victim.pk and "altered" in report.problem


def test_removed_row_breaks_the_link(city):
    make_rows(city)
    ids = list(AuditEvent.objects.values_list("id", flat=True))
    tamper("DELETE FROM catalog_auditevent WHERE id = %s", [ids[4]])
    report = verify_chain()
    assert not report.ok and report.first_bad_id == ids[5] and "link" in report.problem


def test_audit_verify_command_exit_status(city, capsys):
    make_rows(city, 2)
    call_command("audit", "verify")
    assert "chain holds" in capsys.readouterr().out
    first = AuditEvent.objects.order_by("id").first()
    tamper("UPDATE catalog_auditevent SET purpose = 'forged' WHERE id = %s", [first.pk])
    with pytest.raises(SystemExit) as caught:
        call_command("audit", "verify")
    assert caught.value.code == 1
    assert f"row {first.pk}" in capsys.readouterr().err


def test_append_event_defaults_make_a_valid_chain(db):
    append_event(action="discover", allowed=True, department="x")
    append_event(action="read", allowed=False, reason="no")
    assert verify_chain().ok


def test_tile_requests_are_counted_per_key_entry_and_day(city):
    from catalog.models import TileUsage

    for _ in range(3):
        authorize(city.request("granted"), "businesses-application", Action.READ, tile=True)
    with pytest.raises(AccessDenied):
        authorize(city.request("stranger"), "businesses-application", Action.READ, tile=True)
    assert AuditEvent.objects.count() == 0, "tiles are counted, not chained row by row"
    from catalog.audit import tile_counter

    tile_counter.flush()
    usage = {u.department: (u.requests, u.denied) for u in TileUsage.objects.all()}
    assert usage == {"granted": (3, 0), "stranger": (1, 1)}


def test_tile_decisions_are_reused_briefly_then_revocation_applies(city, settings, monkeypatch,
                                                                   django_assert_num_queries):
    import time

    from catalog.audit import tile_counter
    from catalog.errors import KeyRejected
    from catalog.keys import revoke_api_key

    monkeypatch.setattr(tile_counter, "interval", 3600)
    settings.GEOPLATFORM_TILE_DECISION_SECONDS = 0.5
    authorize(city.request("granted"), "businesses-application", Action.READ, tile=True)
    with django_assert_num_queries(0):
        authorize(city.request("granted"), "businesses-application", Action.READ, tile=True)
    revoke_api_key(city.keys["granted"])
    time.sleep(0.6)
    with pytest.raises(KeyRejected, match="revoked"):
        authorize(city.request("granted"), "businesses-application", Action.READ, tile=True)
    tile_counter.flush()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_linear_chain():
    """Web threads and processes append at once: the lock and the INSERT's own snapshot keep every link."""
    import threading

    from django.db import connection

    def write(n: int) -> None:
        try:
            for i in range(25):
                append_event(action="read", allowed=True, department=f"d{n}", reason=f"{n}-{i} 测试")
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    report = verify_chain()
    assert report.ok and report.rows == 100, report
