"""The one access decision: may this caller do this with this catalog entry?

Every endpoint of every app (features, tiles, downloads, geocoding, grids, the catalog
itself) calls :func:`authorize`, which finds the caller, asks :func:`decide`, writes the
audit row and raises a typed error when the answer is no. Nothing else checks permissions.

The rules (国发〔2016〕51号: 依申请提供，依职能使用):

- the owner department may do everything with its entries; only it may publish;
- 无条件共享 (open): every department may discover, read and download;
- 有条件共享 (application): every department may discover; reading and downloading need a
  grant that is valid now (and names the calling key, when it names keys);
- 不予共享 (unlisted): only the owner sees it at all;
- platform administrators may discover and administer, not read: use follows a function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from django.db.models import Q
from django.utils import timezone

from catalog.auth import Principal, principal_from_credentials, principal_from_user
from catalog.errors import AccessDenied, EntryNotFound, NotAuthenticated
from catalog.masking import DEFAULT_FOR_SENSITIVITY
from catalog.models import ApplicationItem, Entry, Grant


class Action(StrEnum):
    DISCOVER = "discover"
    READ = "read"
    DOWNLOAD = "download"
    PUBLISH = "publish"
    ADMINISTER = "administer"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    action: Action
    entry: Entry | None
    principal: Principal | None
    grant_id: int | None = None
    visible_fields: list[str] | None = None  # None: every field of the schema
    transforms: dict[str, dict] = field(default_factory=dict)  # field -> masking spec (catalog.masking)
    audit_id: int | None = None

    def with_audit(self, audit_id: int) -> Decision:
        return Decision(**{**self.__dict__, "audit_id": audit_id})


def _is_admin(principal: Principal) -> bool:
    return principal.user is not None and principal.user.is_superuser


def _schema_transforms(entry: Entry) -> dict[str, dict]:
    """Masking the schema asks for by default (for open entries and fields a grant leaves unspecified)."""
    return {f["name"]: DEFAULT_FOR_SENSITIVITY[f["sensitivity"]]
            for f in entry.fields if f.get("sensitivity") in DEFAULT_FOR_SENSITIVITY}


def _grant_refusal(principal: Principal, entry: Entry) -> str:
    """Why a department without a usable grant is refused, as precisely as the records allow."""
    dept = principal.department
    latest = Grant.objects.filter(department=dept, entry=entry).order_by("-valid_to").first()
    now = timezone.now()
    if latest is not None:
        if latest.revoked_at is not None:
            return f"grant #{latest.pk} was revoked at {timezone.localtime(latest.revoked_at):%Y-%m-%d %H:%M}"
        if latest.valid_to <= now:
            return f"grant #{latest.pk} expired at {timezone.localtime(latest.valid_to):%Y-%m-%d %H:%M}"
        if latest.valid_from > now:
            return f"grant #{latest.pk} is valid from {timezone.localtime(latest.valid_from):%Y-%m-%d %H:%M}"
        if principal.api_key is not None:
            return f"grant #{latest.pk} does not cover API key gp_{principal.api_key.prefix}"
    pending = (ApplicationItem.objects.filter(application__applicant=dept, entry=entry,
                                              decision=ApplicationItem.Decision.PENDING)
               .exclude(application__status__in=["withdrawn", "nonconforming"]).first())
    if pending is not None:
        return f"application #{pending.application_id} for {entry.slug} is awaiting a decision"
    return f"{entry.slug} is shared on application (有条件共享): apply to {entry.owner.name_zh} for a grant"


def _active_grant(principal: Principal, entry: Entry) -> Grant | None:
    now = timezone.now()
    grants = Grant.objects.filter(department=principal.department, entry=entry, revoked_at__isnull=True,
                                  valid_from__lte=now, valid_to__gt=now)
    if principal.api_key is not None:
        grants = grants.filter(Q(api_keys__isnull=True) | Q(api_keys=principal.api_key))
    return grants.order_by("-valid_to").first()


def decide(principal: Principal | None, entry: Entry, action: Action) -> Decision:
    """The answer, its reason, and for reads the visible fields and their masking. Writes nothing."""
    action = Action(action)

    def no(reason: str) -> Decision:
        return Decision(False, reason, action, entry, principal)

    def yes(reason: str, **kw) -> Decision:
        return Decision(True, reason, action, entry, principal, **kw)

    if principal is None:
        return no("authentication required: send 'Authorization: Bearer <key>'")
    if principal.department is not None and principal.department.pk == entry.owner_id:
        return yes("owner department")
    if action == Action.PUBLISH:
        return no(f"only the owner department ({entry.owner.code}) may publish {entry.slug} (一数一源)")
    if action == Action.ADMINISTER:
        return yes("platform administrator") if _is_admin(principal) else no(
            f"only the owner department ({entry.owner.code}) or an administrator may administer {entry.slug}")
    if entry.sharing == Entry.Sharing.UNLISTED:
        if action == Action.DISCOVER and _is_admin(principal):
            return yes("platform administrator")
        return no(f"{entry.slug} is not shared (不予共享)")
    if action == Action.DISCOVER:
        return yes("listed in the catalog")
    if principal.department is None:
        return no("platform administrators may discover and administer, not read data (依职能使用)")
    if entry.sharing == Entry.Sharing.OPEN:
        return yes("shared unconditionally (无条件共享)", transforms=_schema_transforms(entry))
    grant = _active_grant(principal, entry)
    if grant is None:
        return no(_grant_refusal(principal, entry))
    transforms = {**_schema_transforms(entry), **grant.transforms}
    return yes(f"grant #{grant.pk}", grant_id=grant.pk, visible_fields=grant.fields or None, transforms=transforms)


def request_principal(request, allow_query_token: bool = False) -> Principal | None:
    """The caller of a DRF or plain Django request, through the one authentication path."""
    user = getattr(request, "user", None)
    if isinstance(user, Principal):
        return user
    query = getattr(request, "query_params", None) or request.GET
    principal = principal_from_credentials(request.META.get("HTTP_AUTHORIZATION"), query.get("token"),
                                           allow_query_token)
    if principal is None:
        django_user = getattr(getattr(request, "_request", request), "user", None)
        principal = principal_from_user(django_user)
    return principal


def authorize(request, entry: Entry | str, action: Action, *, purpose: str = "",
              allow_query_token: bool = False, tile: bool = False) -> Decision:
    """Decide, write the audit row, and return the Decision, or raise NotAuthenticated/AccessDenied/EntryNotFound.

    ``tile=True`` (map tiles, requested by the hundred per screen) counts the request in the
    per key, entry and day table instead of writing one chained audit row each.
    """
    from catalog.audit import record_decision

    if tile:
        return _authorize_tile(request, entry, Action(action), allow_query_token)
    principal = request_principal(request, allow_query_token)
    if isinstance(entry, str):
        slug = entry
        entry = Entry.objects.select_related("owner").filter(slug=slug).first()
        if entry is None:
            denied = Decision(False, f"no catalog entry {slug!r}", Action(action), None, principal)
            record_decision(denied, request, purpose=purpose, entry_slug=slug)
            raise EntryNotFound(f"no catalog entry {slug!r}")
    decision = decide(principal, entry, action)
    decision = decision.with_audit(record_decision(decision, request, purpose=purpose))
    if decision.allowed:
        return decision
    if principal is None:
        raise NotAuthenticated(decision.reason)
    if entry.sharing == Entry.Sharing.UNLISTED and action == Action.DISCOVER:
        raise EntryNotFound(f"no catalog entry {entry.slug!r}")
    raise AccessDenied(decision.reason)


class _TileDecisions:
    """Tile decisions remembered for a few seconds per credential, entry and action.

    A map screen asks for dozens of tiles at once; deciding each from the database would cost
    more than drawing it. A revoked key or grant therefore stops working for tiles within
    ``GEOPLATFORM_TILE_DECISION_SECONDS`` (default 2), and immediately everywhere else.
    """

    def __init__(self, max_size: int = 10_000):
        self.max_size = max_size
        self.items: dict[tuple, tuple[float, Decision]] = {}

    def get(self, key: tuple) -> Decision | None:
        hit = self.items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: tuple, decision: Decision, seconds: float) -> None:
        if len(self.items) >= self.max_size:
            self.items.clear()
        self.items[key] = (time.monotonic() + seconds, decision)


tile_decisions = _TileDecisions()


def _authorize_tile(request, entry: Entry | str, action: Action, allow_query_token: bool) -> Decision:
    from django.conf import settings

    from catalog.audit import count_tile

    slug = entry if isinstance(entry, str) else entry.slug
    base = getattr(request, "_request", request)
    credential = (base.META.get("HTTP_AUTHORIZATION") or (base.GET.get("token") if allow_query_token else None)
                  or getattr(getattr(base, "session", None), "session_key", None))
    cache_key = (credential, slug, action)
    decision = tile_decisions.get(cache_key) if credential else None
    if decision is None:
        principal = request_principal(request, allow_query_token)
        if principal is None:
            return authorize(request, slug, action, allow_query_token=allow_query_token)
        if isinstance(entry, str):
            entry = Entry.objects.select_related("owner").filter(slug=slug).first()
        decision = decide(principal, entry, action) if entry is not None else Decision(
            False, f"no catalog entry {slug!r}", action, None, principal)
        if credential:
            tile_decisions.put(cache_key, decision, settings.GEOPLATFORM_TILE_DECISION_SECONDS)
    count_tile(decision.principal, slug, decision.allowed)
    if decision.allowed:
        return decision
    if decision.entry is None or decision.entry.sharing == Entry.Sharing.UNLISTED:
        raise EntryNotFound(f"no catalog entry {slug!r}")
    raise AccessDenied(decision.reason)
