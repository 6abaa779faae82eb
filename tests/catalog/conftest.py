"""A small city for the catalog tests: an owner, its entries of each sharing type, callers in every state."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from catalog.keys import create_api_key
from catalog.models import Application, ApplicationItem, Department, Entry, Grant

FIELDS = [
    {"name": "name", "type": "string", "title": "名称", "sensitivity": "public"},
    {"name": "credit_code", "type": "string", "title": "统一社会信用代码", "sensitivity": "masked"},
    {"name": "employees", "type": "integer", "title": "从业人数", "sensitivity": "coarsened"},
    {"name": "address", "type": "string", "title": "地址", "sensitivity": "public"},
]


class City:
    """Departments with keys, entries and grants; ``request(who)`` builds a request carrying who's key."""

    def __init__(self):
        self.factory = RequestFactory()
        self.departments: dict[str, Department] = {}
        self.keys: dict[str, str] = {}
        for code, name in [("owner", "市市场监督管理局"), ("stranger", "市体育局"), ("pending", "市税务局"),
                           ("granted", "市商务局"), ("expired", "市统计局"), ("revoked", "市人力社保局"),
                           ("authority", "市政务服务和数据管理局")]:
            dept = Department.objects.create(code=code, name_zh=name, is_data_authority=code == "authority")
            self.departments[code] = dept
            self.keys[code] = create_api_key(dept, "app")[1]
        owner = self.departments["owner"]
        self.entries = {
            sharing: Entry.objects.create(slug=f"businesses-{sharing}", kind="layer", owner=owner,
                                          title_zh=f"企业登记 {sharing}", sharing=sharing, fields=FIELDS,
                                          legal_basis="《企业信息公示暂行条例》" if sharing == "unlisted" else "")
            for sharing in ("open", "application", "unlisted")
        }
        now = timezone.now()
        for sharing in ("application", "unlisted"):
            entry = self.entries[sharing]
            Grant.objects.create(department=self.departments["granted"], entry=entry,
                                 valid_to=now + timedelta(days=30))
            Grant.objects.create(department=self.departments["expired"], entry=entry,
                                 valid_from=now - timedelta(days=60), valid_to=now - timedelta(days=1))
            Grant.objects.create(department=self.departments["revoked"], entry=entry,
                                 valid_to=now + timedelta(days=30), revoked_at=now)
        application = Application.objects.create(applicant=self.departments["pending"], purpose="税源核查",
                                                 days=30, conformity_due_at=now + timedelta(days=2),
                                                 status=Application.Status.CHECKED)
        ApplicationItem.objects.create(application=application, entry=self.entries["application"])
        self.pending_application = application

    def request(self, who: str | None, path: str = "/api/test", method: str = "get", **extra):
        if who is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.keys[who]}"
        request = getattr(self.factory, method)(path, **extra)
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()
        return request


@pytest.fixture
def city(db) -> City:
    return City()
