"""Catalog pages for staff (session login): browse and search, entry, apply, my department, decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import sharing
from catalog.access import Action, authorize, decide
from catalog.auth import principal_from_user
from catalog.entries import overdue_entries
from catalog.errors import CatalogError, EntryNotFound, InvalidRequest
from catalog.masking import fitting_kinds
from catalog.models import Application, ApplicationItem, Department, Entry, Grant, Notification
from catalog.search import search_entries

PAGE_SIZE = 20


def _principal(request):
    return principal_from_user(request.user)


@login_required
def catalog_browse(request):
    """Search and browse: text, department, kind and sharing filters with counts, paging."""
    p = request.GET
    page_number = max(int(p.get("page", "1")) if p.get("page", "1").isdigit() else 1, 1)
    try:
        result = search_entries(_principal(request), q=p.get("q", ""), department=p.get("department", ""),
                                kind=p.get("kind", ""), sharing=p.get("sharing", ""),
                                offset=(page_number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    except CatalogError as exc:
        messages.error(request, str(exc))
        return redirect("catalog-browse")
    pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
    query = p.copy()
    query.pop("page", None)
    return render(request, "catalog/browse.html", {
        "result": result, "q": p.get("q", ""), "filters": p, "page": page_number, "pages": pages,
        "query": query.urlencode(), "kinds": Entry.Kind.choices, "sharings": Entry.Sharing.choices,
    })


@login_required
def entry_page(request, slug):
    """Metadata, field schema with sensitivities, extent map, and what the visitor may do next."""
    try:
        decision = authorize(request, slug, Action.DISCOVER)
    except EntryNotFound:
        raise Http404(slug) from None
    entry = decision.entry
    principal = _principal(request)
    read = decide(principal, entry, Action.READ)
    pending = ApplicationItem.objects.filter(application__applicant=principal.department, entry=entry,
                                             decision=ApplicationItem.Decision.PENDING,
                                             application__status__in=["submitted", "checked"]).first()
    can_apply = (entry.sharing == Entry.Sharing.APPLICATION and principal.department is not None
                 and not read.allowed and pending is None)
    return render(request, "catalog/entry.html", {
        "entry": entry, "read": read, "can_apply": can_apply, "pending": pending,
        "map_layers": _map_layers(principal, entry, read.allowed),
        "is_owner": principal.department is not None and principal.department.pk == entry.owner_id,
        "grants": entry.grants.select_related("department").filter(revoked_at__isnull=True)
        if principal.department and principal.department.pk == entry.owner_id else [],
    })


BASEMAP_SLUGS = ("districts", "roads")


def _map_layers(principal, entry: Entry, readable: bool) -> list[dict]:
    """Vector tile sources for the preview map: the open base layers, then the entry itself when readable."""
    from django.urls import reverse

    from geoplatform.layers.models import Layer

    wanted = [s for s in BASEMAP_SLUGS if s != entry.slug]
    published = set(Layer.objects.filter(slug__in=[*wanted, entry.slug], current_version__gt=0)
                    .values_list("slug", flat=True))
    layers = [{"slug": s, "tilejson": reverse("layer-tilejson", args=[s]), "role": "base"}
              for s in wanted if s in published
              and decide(principal, Entry.objects.get(slug=s), Action.READ).allowed]
    if readable and entry.slug in published:
        layers.append({"slug": entry.slug, "tilejson": reverse("layer-tilejson", args=[entry.slug]), "role": "entry"})
    return layers


@login_required
def apply_page(request, slug):
    """The application form (依申请提供): purpose, legal basis, fields, duration."""
    entry = Entry.objects.select_related("owner").filter(slug=slug).first()
    if entry is None or entry.sharing == Entry.Sharing.UNLISTED:
        raise Http404(slug)
    form = {"purpose": "", "legal_basis": "", "fields": entry.field_names(), "days": 365}
    if request.method == "POST":
        form = {"purpose": request.POST.get("purpose", ""), "legal_basis": request.POST.get("legal_basis", ""),
                "fields": request.POST.getlist("fields"), "days": request.POST.get("days", "")}
        try:
            days = int(form["days"])
        except ValueError:
            days = 0
        try:
            application = sharing.submit_application(_principal(request), [entry], form["purpose"], days,
                                                     form["fields"], form["legal_basis"])
            authorize(request, entry, Action.DISCOVER, purpose=f"application #{application.pk}")
            messages.success(request, _("Application #%(id)s submitted.") % {"id": application.pk})
            return redirect("application-page", pk=application.pk)
        except CatalogError as exc:
            messages.error(request, str(exc))
    return render(request, "catalog/apply.html", {"entry": entry, "form": form})


def _visible_application(request, pk) -> Application:
    from catalog.api.sharing import visible_applications

    application = visible_applications(_principal(request)).filter(pk=pk).first()
    if application is None:
        raise Http404(pk)
    return application


@login_required
def application_page(request, pk):
    """One application; the decision form for the owner, the check form for the data authority."""
    application = _visible_application(request, pk)
    principal = _principal(request)
    dept = principal.department
    if request.method == "POST":
        step = request.POST.get("step", "")
        try:
            _run_step(principal, application, step, request.POST)
            messages.success(request, _("Done."))
        except CatalogError as exc:
            messages.error(request, str(exc))
        return redirect("application-page", pk=pk)
    items = list(application.items.select_related("entry", "entry__owner"))
    my_items = [i for i in items if dept and i.entry.owner_id == dept.pk]
    return render(request, "catalog/application.html", {
        "application": application, "items": items,
        "can_decide": application.status == "checked"
        and any(i.decision == ApplicationItem.Decision.PENDING for i in my_items),
        "can_check": bool(dept and dept.is_data_authority and application.status == "submitted"),
        "can_withdraw": bool(dept and application.applicant_id == dept.pk
                             and application.status in ("submitted", "checked")),
        "decide_fields": sorted({f for i in my_items for f in i.entry.field_names()
                                 if not application.fields or f in application.fields}),
        "sensitive": {f["name"] for i in my_items for f in i.entry.fields if f.get("sensitivity") != "public"},
        # partial masking fits text and whole numbers only (catalog.masking); other fields offer the status
        "maskable": {f["name"] for i in my_items for f in i.entry.fields if "mask" in fitting_kinds(f.get("type"))},
    })


def _run_step(principal, application: Application, step: str, post) -> None:
    if step == "approve":
        transforms = {}
        for name in post.getlist("mask"):
            transforms[name] = {"kind": "mask", "keep_last": 4}
        for name in post.getlist("coarsen"):
            transforms[name] = {"kind": "status"}
        days = post.get("days") or None
        sharing.approve_application(principal, application, fields=post.getlist("fields"),
                                    days=int(days) if days and days.isdigit() else None, transforms=transforms)
    elif step == "reject":
        sharing.reject_application(principal, application, post.get("reason", ""))
    elif step == "check":
        sharing.check_conformity(principal, application, post.get("conforming") == "yes", post.get("note", ""))
    elif step == "withdraw":
        sharing.withdraw_application(principal, application)
    else:
        raise InvalidRequest(f"unknown step {step!r}")


@login_required
def my_department(request):
    """My department: my entries and which are overdue, applications to decide or check, my grants, notices."""
    principal = _principal(request)
    dept = principal.department
    if dept is None:
        messages.info(request, _("Your account belongs to no department."))
        return redirect("catalog-overdue")
    now = timezone.now()
    to_decide = (Application.objects.filter(status="checked", items__entry__owner=dept,
                                            items__decision=ApplicationItem.Decision.PENDING)
                 .select_related("applicant").distinct().order_by("answer_due_at"))
    to_check = (Application.objects.filter(status="submitted").select_related("applicant")
                .order_by("conformity_due_at") if dept.is_data_authority else [])
    return render(request, "catalog/my_department.html", {
        "department": dept, "now": now,
        "entries": Entry.objects.filter(owner=dept).order_by("next_due_at"),
        "overdue": set(overdue_entries(dept).values_list("pk", flat=True)),
        "to_decide": to_decide, "to_check": to_check,
        "mine": Application.objects.filter(applicant=dept).prefetch_related("items__entry")[:50],
        "grants": Grant.objects.filter(department=dept).select_related("entry", "entry__owner")[:100],
        "notifications": Notification.objects.filter(department=dept)[:20],
    })


@login_required
def overdue_dashboard(request):
    """Update compliance and answer deadlines across departments (who is late)."""
    late = overdue_entries()
    per_department = (Department.objects.annotate(
        entry_count=Count("entries", distinct=True),
        overdue=Count("entries", filter=Q(entries__in=late), distinct=True)).order_by("-overdue", "code"))
    late_checks, late_answers = sharing.overdue_answers()
    return render(request, "catalog/overdue.html", {
        "late": late, "per_department": per_department, "now": timezone.now(),
        "late_checks": late_checks.select_related("applicant"), "late_answers": late_answers.select_related("applicant"),
    })
