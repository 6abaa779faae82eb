"""The demo city's catalog: categories and entries of every sharing type, one update overdue,
one application waiting for its conformity check. Layers add their data when published."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from catalog.models import Application, ApplicationItem, Category, Department, Entry
from catalog.schedule import next_due
from catalog.sharing import add_working_days

CATEGORIES = [("zr", "自然资源", "Natural resources", None), ("zr-xz", "行政区划", "Administrative divisions", "zr"),
              ("jt", "交通", "Transport", None), ("jt-dl", "道路", "Roads", "jt"),
              ("jj", "经济", "Economy", None), ("jj-qy", "企业登记", "Business registration", "jj"),
              ("dz", "地名地址", "Place names and addresses", None)]

BUSINESS_FIELDS = [
    {"name": "credit_code", "type": "string", "title": "统一社会信用代码", "sensitivity": "masked"},
    {"name": "name", "type": "string", "title": "企业名称", "sensitivity": "public"},
    {"name": "address", "type": "string", "title": "注册地址", "sensitivity": "public"},
    {"name": "industry", "type": "string", "title": "行业", "sensitivity": "public"},
    {"name": "registered_capital", "type": "number", "title": "注册资本（万元）", "sensitivity": "coarsened"},
    {"name": "status", "type": "string", "title": "经营状态", "sensitivity": "public"},
]

ENTRIES = [
    # slug, owner, kind, title_zh, title_en, category, sharing, cadence, abstract, fields
    ("districts", "mzj", "layer", "区级行政区划", "District boundaries", "zr-xz", "open", "yearly",
     "示范市各区行政区划界线（面）。", []),
    ("townships", "mzj", "layer", "街道乡镇界线", "Township and street boundaries", "zr-xz", "open", "yearly",
     "示范市街道、乡镇行政区划界线（面），含区划代码。", []),
    ("roads", "jtw", "layer", "城市道路中心线", "Road centre lines", "jt-dl", "open", "quarterly",
     "主干路、次干路和支路的道路中心线。", []),
    ("businesses", "scjgj", "layer", "市场主体登记信息", "Registered businesses", "jj-qy", "application",
     "monthly:3", "市场监管部门登记的企业及个体工商户，含统一社会信用代码与注册地址。", BUSINESS_FIELDS),
    ("taxpayers", "swj", "layer", "纳税人登记信息", "Registered taxpayers", "jj-qy", "unlisted", "monthly:10",
     "税务登记信息。", []),
    ("gazetteer", "ghzrzyw", "gazetteer", "标准地名地址库", "Standard address gazetteer", "dz", "open",
     "monthly:15", "门牌、楼栋级标准地址及坐标，用于地址匹配。", []),
]


def load_catalog() -> None:
    for code, zh, en, parent in CATEGORIES:
        Category.objects.update_or_create(code=code, defaults={
            "name_zh": zh, "name_en": en, "parent": Category.objects.filter(code=parent).first()})
    now = timezone.now()
    for slug, owner, kind, zh, en, cat, sharing, cadence, abstract, fields in ENTRIES:
        if Entry.objects.filter(slug=slug).exists():
            continue
        published = now - timedelta(days=50) if slug == "businesses" else now - timedelta(days=3)
        Entry.objects.create(
            slug=slug, owner=Department.objects.get(code=owner), kind=kind, title_zh=zh, title_en=en,
            category=Category.objects.get(code=cat), sharing=sharing, cadence=cadence, abstract=abstract,
            fields=fields, keywords=[zh[:2]], last_published_at=published, next_due_at=next_due(cadence, published),
            legal_basis="《中华人民共和国税收征收管理法》第八条（纳税人信息保密）" if sharing == "unlisted" else "",
            sharing_conditions="用于履行市场监管、税收征管、安全生产等法定职责" if sharing == "application" else "")
    if not Application.objects.exists():
        applicant = Department.objects.get(code="swj")
        application = Application.objects.create(
            applicant=applicant, purpose="核对新登记企业的税务登记情况（税源管理）", legal_basis="《税收征收管理法》第十五条",
            fields=["credit_code", "name", "address", "status"], days=365,
            conformity_due_at=add_working_days(now, 2))
        ApplicationItem.objects.create(application=application, entry=Entry.objects.get(slug="businesses"))
