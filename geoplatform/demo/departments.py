"""The demo city's departments, staff and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from catalog.keys import create_api_key
from catalog.models import ApiKey, Department, User


@dataclass(frozen=True)
class DemoDepartment:
    code: str
    name_zh: str
    name_en: str
    responsible: str
    data_authority: bool = False


DEPARTMENTS = [
    DemoDepartment("zsj", "市政务服务和数据管理局", "Government Services and Data Administration", "王明",
                   data_authority=True),
    DemoDepartment("ghzrzyw", "市规划和自然资源委员会", "Planning and Natural Resources Commission", "李华"),
    DemoDepartment("mzj", "市民政局", "Civil Affairs Bureau", "张伟"),
    DemoDepartment("jtw", "市交通委员会", "Transport Commission", "刘洋"),
    DemoDepartment("scjgj", "市市场监督管理局", "Market Regulation Administration", "陈静"),
    DemoDepartment("swj", "市税务局", "Tax Bureau", "赵磊"),
]


def load_departments() -> list[tuple[str, str, str]]:
    """Create what is missing; returns (who, secret kind, secret) for credentials created this time."""
    created: list[tuple[str, str, str]] = []
    for spec in DEPARTMENTS:
        dept, _ = Department.objects.update_or_create(
            code=spec.code,
            defaults={"name_zh": spec.name_zh, "name_en": spec.name_en, "responsible_person": spec.responsible,
                      "is_data_authority": spec.data_authority},
        )
        username = f"{spec.code}-staff"
        if not User.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(9)
            User.objects.create_user(username=username, password=password, department=dept,
                                     first_name=spec.responsible)
            created.append((username, "password", password))
        if not ApiKey.objects.filter(department=dept, name="demo-app").exists():
            _key, raw = create_api_key(dept, "demo-app")
            created.append((f"{spec.code} API key", "key", raw))
    if not User.objects.filter(username="admin").exists():
        password = secrets.token_urlsafe(9)
        User.objects.create_superuser(username="admin", password=password, email="")
        created.append(("admin", "password", password))
    return created
