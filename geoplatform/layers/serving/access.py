"""One step before every read: the catalog's decision, the version asked for, and the SQL for each visible field.

Masked and coarsened fields are SQL expressions from :func:`catalog.masking.select_expression`,
so every output (features, tiles, downloads, filters on them) sees only the masked value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from catalog.access import Action, Decision, authorize, decide, request_principal
from catalog.api.params import parse_datetime_value
from catalog.errors import EntryNotFound, InvalidRequest, NotAuthenticated
from catalog.masking import select_expression
from catalog.models import Entry
from geoplatform.layers.importing.schema import Field
from geoplatform.layers.models import Layer, LayerVersion
from geoplatform.layers.publish import version_at


@dataclass(frozen=True)
class VisibleField:
    """A field as this caller may see it: public name, SQL expression, SQL type of that expression."""

    name: str
    sql: str
    type: str
    masked: bool


@dataclass(frozen=True)
class LayerAccess:
    layer: Layer
    version: LayerVersion
    decision: Decision
    fields: list[VisibleField]

    @property
    def table(self) -> str:
        return self.layer.table

    def field(self, name: str) -> VisibleField:
        for f in self.fields:
            if f.name == name:
                return f
        raise InvalidRequest(f"unknown property {name!r}; queryable: {', '.join(f.name for f in self.fields)}")


def _one_moment(text: str, name: str) -> datetime | None:
    """One end of ``datetime``/``at``: None when open (``..`` or empty); a date alone means the end of that day."""
    return None if text in ("", "..") else parse_datetime_value(text, name, end_of_day=True)


def parse_moment(text: str | None, name: str = "at") -> datetime | None:
    """The moment a read is "as of": a date (end of that day), an RFC 3339 date-time, or an interval
    ``start/end`` (OGC ``datetime``), of which the end counts; None (now) when open (``..``, ``now``).

    Impossible values are a 400 naming the parameter ``name``, never a 500.
    """
    if not text or text == "now":
        return None
    parts = text.split("/")
    if len(parts) > 2:
        raise InvalidRequest(f"{name} {text!r}: expected a date-time or an interval start/end, e.g. ../2026-01-31")
    moments = [_one_moment(part, name) for part in parts]
    if len(moments) == 2 and None not in moments and moments[0] > moments[1]:
        raise InvalidRequest(f"{name} {text!r}: the interval starts after it ends")
    return moments[-1]


def visible_fields(version: LayerVersion, decision: Decision) -> list[VisibleField]:
    shown = None if decision.visible_fields is None else set(decision.visible_fields)
    out = []
    for raw in version.fields:
        f = Field(**raw)
        if shown is not None and f.name not in shown:
            continue
        transform = decision.transforms.get(f.name)
        if transform is None or (isinstance(transform, dict) and transform.get("kind") == "clear"):
            out.append(VisibleField(f.name, f"t.{f.column}", f.type, False))
        else:
            out.append(VisibleField(f.name, select_expression(f"t.{f.column}", transform), "text", True))
    return out


def _layer(slug: str) -> Layer:
    layer = Layer.objects.select_related("owner").filter(slug=slug).first()
    if layer is None or layer.current_version == 0:
        raise EntryNotFound(f"no published layer {slug!r}")
    return layer


def _version(layer: Layer, moment: datetime | None) -> LayerVersion:
    if moment is None:
        return layer.versions.get(number=layer.current_version)
    version = version_at(layer, moment)
    if version is None:
        raise InvalidRequest(f"{layer.slug} was first published after {moment.isoformat()}")
    return version


def _layer_version(slug: str, at: str | None, at_name: str) -> tuple[Layer, LayerVersion]:
    """The layer and the version asked for; the current one in a single query (tiles ask this by the hundred)."""
    moment = parse_moment(at, at_name)
    if moment is None:
        version = (LayerVersion.objects.select_related("layer__owner")
                   .filter(layer__slug=slug, number=F("layer__current_version")).first())
        if version is None:
            raise EntryNotFound(f"no published layer {slug!r}")
        return version.layer, version
    layer = _layer(slug)
    return layer, _version(layer, moment)


def open_layer(request, slug: str, action: Action = Action.READ, at: str | None = None,
               allow_query_token: bool = False, at_name: str = "at") -> LayerAccess:
    """Authorize (audited), then resolve the version current at ``at`` (the query parameter ``at_name``)
    and the caller's visible fields."""
    decision = authorize(request, slug, action, allow_query_token=allow_query_token)
    layer, version = _layer_version(slug, at, at_name)
    return LayerAccess(layer, version, decision, visible_fields(version, decision))


def open_layer_for_tile(request, slug: str, at: str | None = None) -> LayerAccess:
    """Tiles: the catalog's tile path (decision reused briefly per credential, tiles counted per day, no audit row)."""
    decision = authorize(request, slug, Action.READ, allow_query_token=True, tile=True)
    layer, version = _layer_version(slug, at, "at")
    return LayerAccess(layer, version, decision, visible_fields(version, decision))


def listable_layers(request) -> list[Layer]:
    """Published layers the caller may discover (the decision is asked without writing audit rows per entry)."""
    principal = request_principal(request)
    if principal is None:
        raise NotAuthenticated("authentication required: send 'Authorization: Bearer <key>'")
    layers = Layer.objects.filter(current_version__gt=0).select_related("owner")
    entries = {e.slug: e for e in Entry.objects.filter(slug__in=[la.slug for la in layers]).select_related("owner")}
    return [la for la in layers if la.slug in entries and decide(principal, entries[la.slug], Action.DISCOVER).allowed]
