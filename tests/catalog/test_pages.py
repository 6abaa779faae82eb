"""Catalog pages: search, entry, apply, decide, my department, compliance dashboard (Chinese first)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Application, Grant, User


@pytest.fixture
def staff(city):
    def login(client, code):
        user = User.objects.create_user(f"{code}-user", password="pw-123456-x", department=city.departments[code])
        client.force_login(user)
        return user
    return login


def test_pages_need_login(client, city):
    for path in ("/catalog/", "/catalog/businesses-open/", "/my/", "/catalog/overdue/"):
        assert client.get(path).status_code == 302


def test_browse_and_search_in_chinese(client, city, staff):
    staff(client, "stranger")
    html = client.get("/catalog/?q=企业登记").content.decode()
    assert "数据目录" in html and "businesses-open" in html and "businesses-unlisted" not in html
    assert "有条件共享" in html


def test_entry_page_offers_to_apply_and_hides_unlisted(client, city, staff):
    staff(client, "stranger")
    html = client.get("/catalog/businesses-application/").content.decode()
    assert "申请使用" in html and "统一社会信用代码" in html
    assert client.get("/catalog/businesses-unlisted/").status_code == 404


def test_apply_check_approve_through_pages(client, city, staff):
    staff(client, "stranger")
    response = client.post("/catalog/businesses-application/apply/",
                           {"purpose": "安全检查", "fields": ["name", "credit_code"], "days": "60"})
    application = Application.objects.get(applicant=city.departments["stranger"])
    assert response.status_code == 302 and response["Location"] == f"/applications/{application.pk}/"
    assert "待合规性审核" in client.get(response["Location"]).content.decode()

    staff(client, "authority")
    assert "待合规性审核的申请" in client.get("/my/").content.decode()
    client.post(f"/applications/{application.pk}/", {"step": "check", "conforming": "yes"})
    staff(client, "owner")
    assert f"#{application.pk}" in client.get("/my/").content.decode()
    client.post(f"/applications/{application.pk}/", {"step": "approve", "fields": ["name", "credit_code"],
                                                      "mask": ["credit_code"], "days": "30"})
    grant = Grant.objects.get(department=city.departments["stranger"])
    assert grant.fields == ["name", "credit_code"] and grant.transforms["credit_code"]["kind"] == "mask"


def test_refusal_without_reason_is_shown_as_an_error(client, city, staff):
    application = city.pending_application
    staff(client, "owner")
    response = client.post(f"/applications/{application.pk}/", {"step": "reject", "reason": ""}, follow=True)
    assert "a refusal must give its reasons" in response.content.decode()
    application.refresh_from_db()
    assert application.status == "checked"


def test_other_departments_cannot_see_an_application(client, city, staff):
    staff(client, "granted")
    assert client.get(f"/applications/{city.pending_application.pk}/").status_code == 404


def test_overdue_dashboard_and_my_department_show_who_is_late(client, city, staff):
    entry = city.entries["open"]
    entry.cadence = "monthly:3"
    entry.last_published_at = timezone.now() - timedelta(days=80)
    entry.next_due_at = timezone.now() - timedelta(days=10)
    entry.save()
    staff(client, "owner")
    html = client.get("/catalog/overdue/").content.decode()
    assert "逾期未更新" in html and entry.title_zh in html
    assert "已逾期" in client.get("/my/").content.decode()


def test_decision_form_offers_masking_only_where_it_fits(client, city, staff):
    """A date field cannot be partly starred (catalog.masking): the form offers it the status, pre-checked."""
    import re

    entry = city.pending_application.items.first().entry
    entry.fields = [*entry.fields, {"name": "founded", "type": "date", "title": "成立日期", "sensitivity": "masked"}]
    entry.save(update_fields=["fields"])
    application = city.pending_application
    staff(client, "owner")
    html = client.get(f"/applications/{application.pk}/").content.decode()
    assert 'name="mask" value="credit_code" checked' in html and 'name="mask" value="founded"' not in html
    assert 'name="coarsen" value="founded" checked' in html
    form = {"step": "approve", "days": "30",
            "fields": re.findall(r'name="fields" value="([^"]+)"', html),
            "mask": re.findall(r'name="mask" value="([^"]+)" checked', html),
            "coarsen": re.findall(r'name="coarsen" value="([^"]+)" checked', html)}
    response = client.post(f"/applications/{application.pk}/", form, follow=True)
    assert "does not fit" not in response.content.decode()
    application.refresh_from_db()
    assert application.status == "decided" or application.items.filter(decision="approved").exists()
