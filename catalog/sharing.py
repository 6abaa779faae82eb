"""The sharing workflow (依申请提供): apply, conformity check, decide, withdraw, revoke, dispute.

Roles and deadlines follow 国发〔2016〕51号 and the provincial rules built on it: the data
authority (政务数据主管部门) checks an application's conformity within
``GEOPLATFORM_CONFORMITY_DAYS`` working days; each owner answers within
``GEOPLATFORM_ANSWER_DAYS`` working days; a refusal gives its reasons; a disputed refusal
goes to the data authority to settle.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.auth import Principal
from catalog.errors import AccessDenied, Conflict, InvalidRequest
from catalog.masking import TransformDoesNotFit, check_fits, validate_transform
from catalog.models import ApiKey, Application, ApplicationItem, Department, Entry, Grant, Notification
from catalog.notify import notify

MAX_DAYS = 3650


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if timezone.localtime(moment).weekday() < 5:
            days -= 1
    return moment


def data_authorities() -> list[Department]:
    return list(Department.objects.filter(is_data_authority=True))


def _require_department(principal: Principal | None) -> Department:
    if principal is None or principal.department is None:
        raise AccessDenied("only a department (through its staff or API key) can do this")
    return principal.department


def _require_authority(principal: Principal | None) -> Department:
    dept = _require_department(principal)
    if not dept.is_data_authority:
        raise AccessDenied("only the data authority (政务数据主管部门) can do this")
    return dept


def _check_fields(entries: list[Entry], fields: list[str]) -> None:
    known = {name for entry in entries for name in entry.field_names()}
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise InvalidRequest(f"fields not in the schema of {', '.join(e.slug for e in entries)}: "
                             f"{', '.join(unknown)}")


def _check_transforms_fit(entries: list[Entry], transforms: dict[str, dict]) -> None:
    """Each transform fits the type its field has in every entry holding it (no range of a name)."""
    for entry in entries:
        types = {f["name"]: f.get("type") for f in entry.fields}
        for name, spec in transforms.items():
            if name in types:
                try:
                    check_fits(name, types[name], spec)
                except TransformDoesNotFit as exc:
                    raise TransformDoesNotFit(f"{entry.slug}: {exc}") from None


def submit_application(principal: Principal, entries: list[Entry], purpose: str, days: int,
                       fields: list[str] | None = None, legal_basis: str = "") -> Application:
    """A department applies for entries; the data authority is asked to check it, the owners are told."""
    applicant = _require_department(principal)
    fields = list(fields or [])
    if not entries:
        raise InvalidRequest("name at least one catalog entry")
    if not purpose.strip():
        raise InvalidRequest("state the purpose of the application (依职能使用)")
    if not isinstance(days, int) or not 0 < days <= MAX_DAYS:
        raise InvalidRequest(f"days must be between 1 and {MAX_DAYS}")
    for entry in entries:
        if entry.owner_id == applicant.pk:
            raise InvalidRequest(f"{entry.slug} is your own department's entry")
        if entry.sharing == Entry.Sharing.UNLISTED:
            raise AccessDenied(f"{entry.slug} is not shared (不予共享)")
        if entry.sharing == Entry.Sharing.OPEN:
            raise InvalidRequest(f"{entry.slug} is shared unconditionally (无条件共享): no application needed")
    _check_fields(entries, fields)
    now = timezone.now()
    authorities = data_authorities()
    with transaction.atomic():
        application = Application.objects.create(
            applicant=applicant, submitted_by=principal.user, purpose=purpose.strip(), legal_basis=legal_basis,
            fields=fields, days=days, submitted_at=now,
            conformity_due_at=add_working_days(now, settings.GEOPLATFORM_CONFORMITY_DAYS),
            status=Application.Status.SUBMITTED if authorities else Application.Status.CHECKED,
            answer_due_at=None if authorities else add_working_days(now, settings.GEOPLATFORM_ANSWER_DAYS),
        )
        for entry in entries:
            ApplicationItem.objects.create(application=application, entry=entry)
        message = f"申请 #{application.pk}：{applicant.name_zh} 申请 {', '.join(e.title_zh for e in entries)}"
        for dept in authorities + list({e.owner for e in entries}):
            notify(dept, Notification.Kind.APPLICATION_RECEIVED, message,
                   {"application": application.pk, "applicant": applicant.code})
    return application


def check_conformity(principal: Principal, application: Application, conforming: bool, note: str = "") -> None:
    """The data authority's conformity check (合规性审核): passes the application on to the owners, or returns it."""
    _require_authority(principal)
    if application.status != Application.Status.SUBMITTED:
        raise Conflict(f"application #{application.pk} is {application.get_status_display()}, not awaiting a check")
    if not conforming and not note.strip():
        raise InvalidRequest("say why the application does not conform")
    now = timezone.now()
    application.checked_at = now
    application.check_note = note
    if conforming:
        application.status = Application.Status.CHECKED
        application.answer_due_at = add_working_days(now, settings.GEOPLATFORM_ANSWER_DAYS)
    else:
        application.status = Application.Status.NONCONFORMING
        application.closed_at = now
    application.save()
    if not conforming:
        notify(application.applicant, Notification.Kind.APPLICATION_DECIDED,
               f"申请 #{application.pk} 未通过合规性审核：{note}", {"application": application.pk})


def _owned_pending_items(principal: Principal, application: Application) -> list[ApplicationItem]:
    dept = _require_department(principal)
    items = list(application.items.select_related("entry", "entry__owner"))
    mine = [i for i in items if i.entry.owner_id == dept.pk]
    if not mine:
        raise AccessDenied(f"application #{application.pk} asks for no entry owned by {dept.code}; "
                           "only the owner department decides")
    if application.status == Application.Status.SUBMITTED:
        raise Conflict(f"application #{application.pk} is awaiting the data authority's conformity check")
    if application.status != Application.Status.CHECKED:
        raise Conflict(f"application #{application.pk} is {application.get_status_display()}")
    pending = [i for i in mine if i.decision == ApplicationItem.Decision.PENDING]
    if not pending:
        raise Conflict(f"application #{application.pk}: your entries are already decided")
    return pending


def _close_if_decided(application: Application) -> None:
    if not application.items.filter(decision=ApplicationItem.Decision.PENDING).exists():
        application.status = Application.Status.DECIDED
        application.closed_at = timezone.now()
        application.save(update_fields=["status", "closed_at"])


def approve_application(principal: Principal, application: Application, *, fields: list[str] | None = None,
                        days: int | None = None, transforms: dict | None = None,
                        api_keys: list[str] | None = None) -> list[Grant]:
    """The owner approves its entries of the application, possibly narrowing fields or duration."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        items = _owned_pending_items(principal, application)
        entries = [i.entry for i in items]
        if fields is not None and not fields:
            raise InvalidRequest("approve at least one field, or reject the application")
        granted_fields = list(application.fields) if fields is None else list(fields)
        _check_fields(entries, granted_fields)
        if application.fields and not set(granted_fields) <= set(application.fields):
            raise InvalidRequest("an approval may narrow the fields applied for, not add to them: "
                                 f"{', '.join(sorted(set(granted_fields) - set(application.fields)))}")
        days = application.days if days is None else days
        if not isinstance(days, int) or not 0 < days <= application.days:
            raise InvalidRequest(f"days must be between 1 and the {application.days} applied for")
        transforms = {name: validate_transform(spec) for name, spec in (transforms or {}).items()}
        _check_fields(entries, list(transforms))
        _check_transforms_fit(entries, transforms)
        keys = _resolve_keys(application.applicant, api_keys or [])
        now = timezone.now()
        grants = []
        for item in items:
            schema = set(item.entry.field_names())
            grant = Grant.objects.create(
                department=application.applicant, entry=item.entry, item=item,
                fields=[f for f in granted_fields if f in schema] or None,
                transforms={k: v for k, v in transforms.items() if k in schema},
                valid_from=now, valid_to=now + timedelta(days=days), purpose=application.purpose)
            grant.api_keys.set(keys)
            item.decision = ApplicationItem.Decision.APPROVED
            item.decided_at = now
            item.decided_by = principal.user
            item.save()
            grants.append(grant)
        _close_if_decided(application)
        notify(application.applicant, Notification.Kind.APPLICATION_DECIDED,
               f"申请 #{application.pk} 已批准：{', '.join(e.title_zh for e in entries)}，有效期 {days} 天",
               {"application": application.pk, "grants": [g.pk for g in grants]})
    return grants


def _resolve_keys(department: Department, key_ids: list[str]) -> list[ApiKey]:
    keys = []
    for key_id in key_ids:
        key = ApiKey.objects.filter(department=department, prefix=key_id.removeprefix("gp_")).first()
        if key is None:
            raise InvalidRequest(f"{key_id} is not an API key of {department.code}")
        keys.append(key)
    return keys


def reject_application(principal: Principal, application: Application, reason: str) -> None:
    """The owner refuses its entries of the application; a refusal must give its reasons."""
    if not reason.strip():
        raise InvalidRequest("a refusal must give its reasons")
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        items = _owned_pending_items(principal, application)
        now = timezone.now()
        for item in items:
            item.decision = ApplicationItem.Decision.REJECTED
            item.reason = reason.strip()
            item.decided_at = now
            item.decided_by = principal.user
            item.save()
        _close_if_decided(application)
        notify(application.applicant, Notification.Kind.APPLICATION_DECIDED,
               f"申请 #{application.pk} 被拒绝：{reason.strip()}", {"application": application.pk})


def withdraw_application(principal: Principal, application: Application) -> None:
    dept = _require_department(principal)
    if application.applicant_id != dept.pk:
        raise AccessDenied("only the applicant department may withdraw its application")
    if application.status not in (Application.Status.SUBMITTED, Application.Status.CHECKED):
        raise Conflict(f"application #{application.pk} is {application.get_status_display()}")
    application.items.filter(decision=ApplicationItem.Decision.PENDING).update(
        decision=ApplicationItem.Decision.WITHDRAWN)
    application.status = Application.Status.WITHDRAWN
    application.closed_at = timezone.now()
    application.save()


def revoke_grant(principal: Principal, grant: Grant, reason: str = "") -> None:
    """The owner may revoke a grant at any time."""
    dept = _require_department(principal)
    if grant.entry.owner_id != dept.pk:
        raise AccessDenied(f"only the owner of {grant.entry.slug} may revoke its grants")
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.revoke_reason = reason
        grant.save(update_fields=["revoked_at", "revoke_reason"])
        notify(grant.department, Notification.Kind.APPLICATION_DECIDED,
               f"授权 #{grant.pk}（{grant.entry.title_zh}）已被撤销：{reason}", {"grant": grant.pk})


def dispute_refusal(principal: Principal, item: ApplicationItem, note: str) -> None:
    """The applicant contests a refusal; the data authority settles it."""
    dept = _require_department(principal)
    if item.application.applicant_id != dept.pk:
        raise AccessDenied("only the applicant department may dispute a refusal")
    if item.decision != ApplicationItem.Decision.REJECTED:
        raise Conflict("only a refusal can be disputed")
    item.decision = ApplicationItem.Decision.DISPUTED
    item.dispute_note = note
    item.save()
    for authority in data_authorities():
        notify(authority, Notification.Kind.APPLICATION_RECEIVED,
               f"申请 #{item.application_id} 的拒绝（{item.entry.title_zh}）有争议，请协调", {"item": item.pk})


def settle_dispute(principal: Principal, item: ApplicationItem, uphold_refusal: bool, note: str = "") -> None:
    """The data authority settles: the refusal stands, or the owner must answer again."""
    _require_authority(principal)
    if item.decision != ApplicationItem.Decision.DISPUTED:
        raise Conflict("this item is not disputed")
    item.settled_at = timezone.now()
    item.dispute_note = f"{item.dispute_note}\n[settled] {note}".strip()
    application = item.application
    if uphold_refusal:
        item.decision = ApplicationItem.Decision.REJECTED
        item.save()
        return
    item.decision = ApplicationItem.Decision.PENDING
    item.save()
    application.status = Application.Status.CHECKED
    application.answer_due_at = add_working_days(timezone.now(), settings.GEOPLATFORM_ANSWER_DAYS)
    application.closed_at = None
    application.save()
    notify(item.entry.owner, Notification.Kind.APPLICATION_RECEIVED,
           f"申请 #{application.pk}：数据主管部门要求重新答复（{item.entry.title_zh}）", {"item": item.pk})


def notify_expiring_grants(within_days: int = 7) -> int:
    """Tell departments about grants that expire within ``within_days`` (once per grant)."""
    now = timezone.now()
    soon = Grant.objects.filter(revoked_at__isnull=True, expiry_notified_at__isnull=True, valid_to__gt=now,
                                valid_to__lte=now + timedelta(days=within_days)).select_related("entry", "department")
    count = 0
    for grant in soon:
        notify(grant.department, Notification.Kind.GRANT_EXPIRING,
               f"授权 #{grant.pk}（{grant.entry.title_zh}）将于 {timezone.localtime(grant.valid_to):%Y-%m-%d} 到期",
               {"grant": grant.pk, "valid_to": grant.valid_to.isoformat()})
        Grant.objects.filter(pk=grant.pk).update(expiry_notified_at=now)
        count += 1
    return count


def overdue_answers(at=None):
    """Applications whose conformity check or owner answer is late."""
    at = at or timezone.now()
    late_checks = Application.objects.filter(status=Application.Status.SUBMITTED, conformity_due_at__lt=at)
    late_answers = Application.objects.filter(status=Application.Status.CHECKED, answer_due_at__lt=at)
    return late_checks, late_answers
