"""Every page the app serves, derived from the URL configuration and the admin registry.

The page tour (``arv/tests/test_page_tour.py``) must visit each page without a hand-kept list, so
that a page added tomorrow is toured without editing the test. This module:

1. walks ``get_resolver()`` into :class:`Route` objects (full pattern, namespaced name, parameters
   and their converters, the view);
2. fills each route's parameters: for the back office's model pages, from the registry (the
   route's ``ModelAdmin`` gives the model, the model its first row); for every other route, from
   candidate values the tour's data offers per parameter name or converter (``uuid``, ``slug``,
   ``int``...); each filled URL is checked to resolve back to the same route;
3. asks each filled URL, with Django's test client, as the roles that matter (anonymous, a
   viewer-role member, the company's owner, staff: see answers_for()) and classifies the route:
   a page to tour (who sees it, with what status), an endpoint that is not a page (POST-only
   action, a file or JSON, a redirect), or a route it cannot classify, which the tour reports
   as a failure.

Routes that serve no page and whose parameters cannot be filled (stored files, the API's
catch-all) are named in an explicit exclusion list by the caller.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.contrib.admin import ModelAdmin
from django.contrib.admin.utils import quote
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

# Roles in the order they are asked: a page is toured as the first kind of visitor that sees it
# (see classify()).
ANONYMOUS, VIEWER, OWNER, STAFF = "anonymous", "viewer", "owner", "staff"
ROLES = (ANONYMOUS, VIEWER, OWNER, STAFF)
MEMBERS = (VIEWER, OWNER)
# Statuses of an HTML answer that is the page itself: 410 is the public page of an ended photo;
# 403 is what a viewer-role member gets on a form only editors and owners may use.
PAGE_STATUSES = {ANONYMOUS: (200, 410), VIEWER: (200, 403), OWNER: (200, 403), STAFF: (200,)}
MAX_COMBINATIONS = 400
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_GROUP_NAME = re.compile(r"\(\?P<(\w+)>")
_CONVERTER = re.compile(r"(?<!\?P)<(?:(?P<converter>[^>:]+):)?(?P<parameter>\w+)>")


@dataclass(frozen=True)
class Route:
    name: str | None  # namespaced, e.g. "portal:portrait_detail"; None for unnamed routes
    pattern: str  # the full pattern, e.g. "portal/portraits/<uuid:uuid>/"
    converters: Mapping[str, str]  # parameter -> converter name ("uuid", "slug", ... "regex")
    callback: Callable

    @property
    def label(self) -> str:
        return self.name or self.pattern

    @property
    def model_admin(self) -> ModelAdmin | None:
        """The ModelAdmin serving this route: its standard views carry it, custom ones are its methods."""
        view = self.callback
        while view is not None:
            for found in (getattr(view, "model_admin", None), getattr(view, "__self__", None)):
                if isinstance(found, ModelAdmin):
                    return found
            view = getattr(view, "__wrapped__", None)
        return None

    def fill(self, values: Mapping[str, object]) -> str:
        """The path with each parameter replaced by its value (no reverse(): unnamed routes too)."""
        path = _CONVERTER.sub(lambda m: str(values[m.group("parameter")]), self.pattern)
        path = _GROUP.sub(lambda m: str(values[m.group(1)]), path)
        return "/" + path.replace("^", "").replace("$", "").replace(r"\Z", "")


def _parameters(pattern: str) -> dict[str, str]:
    """Parameter -> converter name, from the full pattern (route syntax and regex groups alike)."""
    found = {m.group("parameter"): m.group("converter") or "str" for m in _CONVERTER.finditer(pattern)}
    found.update({name: "regex" for name in _GROUP_NAME.findall(pattern)})
    return found


def routes(patterns=None, prefix: str = "", namespace: tuple[str, ...] = ()) -> list[Route]:
    """Every leaf of the URL configuration, in order."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = (*namespace, entry.namespace) if entry.namespace else namespace
            found += routes(entry.url_patterns, pattern, inner)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespace, entry.name)) if entry.name else None
            found.append(Route(name, pattern, _parameters(pattern), entry.callback))
    return found


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    location: str = ""
    # The class names used in an HTML answer: two variants of a page with the same set look alike.
    shape: frozenset[str] = frozenset()

    @property
    def is_html(self) -> bool:
        return self.content_type.startswith("text/html")


_CLASS_ATTRIBUTE = re.compile(rb'class="([^"]*)"')


def _shape(response) -> frozenset[str]:
    if not response.get("Content-Type", "").startswith("text/html") or response.streaming:
        return frozenset()
    return frozenset(
        name.decode() for value in _CLASS_ATTRIBUTE.findall(response.content) for name in value.split()
    )


@dataclass(frozen=True)
class Visit:
    """One page to tour: who opens it, where, and the status its main document must have."""

    route: str
    role: str
    path: str
    status: int


@dataclass
class Classified:
    route: Route
    kind: str  # "page", "not a page", "excluded", "unreachable", "unclassified", "server error"
    reason: str = ""
    visits: list[Visit] = field(default_factory=list)


def _values_for(route: Route, parameter: str, candidates: Mapping[str, list]) -> list:
    if parameter in candidates:
        return list(candidates[parameter])
    return list(candidates.get(route.converters.get(parameter, ""), []))


def admin_values(route: Route) -> dict[str, list] | None:
    """Parameters of a back-office model page, from the registry: the model's first row."""
    model_admin = route.model_admin
    if model_admin is None:
        return None
    obj = model_admin.model._default_manager.order_by("pk").first()
    if obj is None:
        return {}
    return {name: [quote(obj.pk)] for name in route.converters}


SHADOWED = "shadowed: its URLs are served by "


def combinations(route: Route, candidates: Mapping[str, list]) -> tuple[list[str], str]:
    """The filled paths that resolve back to *route*, or ([], why not)."""
    values = admin_values(route) if route.converters else {}
    if route.converters and values == {}:
        return [], f"no {route.model_admin.model._meta.verbose_name} in the tour's data"
    if values is None:
        values = {name: _values_for(route, name, candidates) for name in route.converters}
    missing = [name for name, options in values.items() if not options]
    if missing:
        return [], "no value for " + ", ".join(f"<{route.converters[m]}:{m}>" for m in missing)
    paths, shadowed = [], ""
    names = list(values)
    for combo in itertools.islice(itertools.product(*(values[n] for n in names)), MAX_COMBINATIONS):
        path = route.fill(dict(zip(names, combo, strict=True)))
        try:
            match = resolve(path)
        except Resolver404:
            continue
        # An earlier route with the same pattern answers these URLs (Django's auth URLs after
        # our own log-in and password reset views).
        if match.func is not route.callback:
            shadowed = match.view_name or match.route
            continue
        paths.append(path)
    if not paths and shadowed:
        return [], SHADOWED + shadowed
    if not paths:
        return [], "no candidate value makes a URL of this route"
    return paths, ""


def ask(client, path: str) -> Answer:
    """GET *path*; a redirect to the same route (e.g. a reset link moving its token into the
    session) is followed, as the browser will."""
    response = client.get(path)
    hops = 0
    while response.status_code in (301, 302, 303, 307, 308) and hops < 3:
        location = urlsplit(response["Location"]).path
        try:
            same = resolve(location).route == resolve(urlsplit(path).path).route
        except Resolver404:
            same = False
        if not same:
            return Answer(response.status_code, response.get("Content-Type", ""), response["Location"])
        response = client.get(response["Location"])
        hops += 1
    return Answer(response.status_code, response.get("Content-Type", ""), shape=_shape(response))


def _is_page(role: str, answer: Answer | None) -> bool:
    return answer is not None and answer.is_html and answer.status in PAGE_STATUSES[role]


def answers_for(clients: Mapping[str, object], path: str) -> dict[str, Answer]:
    """The answers the classification needs, asking as few roles as it can: a public page needs
    no log-in; what sends anonymous visitors to the back office's log-in is for staff only; a
    page members see needs no staff opinion."""
    from django.urls import reverse

    anonymous = ask(clients[ANONYMOUS], path)
    answers = {ANONYMOUS: anonymous}
    if _is_page(ANONYMOUS, anonymous):
        return answers
    admin_login = reverse("admin:login")
    if not urlsplit(anonymous.location).path.startswith(admin_login):
        for role in MEMBERS:
            answers[role] = ask(clients[role], path)
        if any(_is_page(role, answers[role]) and answers[role].status == 200 for role in MEMBERS):
            return answers
    answers[STAFF] = ask(clients[STAFF], path)
    return answers


def _visits(route: Route, path: str, answers: dict[str, Answer]) -> list[Visit]:
    def page(role):
        return _is_page(role, answers.get(role))

    label = route.label
    if page(ANONYMOUS):
        return [Visit(label, ANONYMOUS, path, answers[ANONYMOUS].status)]
    if any(page(role) and answers[role].status == 200 for role in MEMBERS):
        # Pages for members are toured as both member roles: a viewer sees fewer buttons, or the
        # reason why not.
        return [Visit(label, role, path, answers[role].status) for role in MEMBERS if page(role)]
    if page(STAFF):
        return [Visit(label, STAFF, path, 200)]
    return []


def _not_a_page(answers: Iterable[Answer]) -> str:
    answers = list(answers)
    for answer in answers:
        if 200 <= answer.status < 300 and not answer.is_html:
            return f"serves {answer.content_type.split(';')[0]}"
    if any(answer.status == 405 for answer in answers):
        return "an action: answers GET with 405 (POST only)"
    locations = sorted({a.location for a in answers if 300 <= a.status < 400 and "login" not in a.location})
    if locations:
        return "redirects to " + locations[0]
    return ""


def classify(
    route_list: list[Route],
    clients: Mapping[str, object],
    candidates: Mapping[str, list],
    excluded: Mapping[str, str],
) -> list[Classified]:
    """Each route with its visits, or why it has none. The *clients* (one per role) must answer
    server errors instead of raising them (``Client(raise_request_exception=False)``)."""
    result = []
    for route in route_list:
        if route.label in excluded:
            result.append(Classified(route, "excluded", excluded[route.label]))
            continue
        paths, why = combinations(route, candidates)
        if not paths:
            if why.startswith(SHADOWED):
                kind = "not a page"
            else:
                kind = "unreachable" if route.model_admin is not None else "unclassified"
            result.append(Classified(route, kind, why))
            continue
        visits, reasons, shapes, errors = [], [], set(), []
        for path in paths:
            answers = answers_for(clients, path)
            errors += [f"GET {path} as {role}: {a.status}" for role, a in answers.items() if a.status >= 500]
            found = _visits(route, path, answers)
            # Another variant of a page is toured only if it looks different (another status or
            # other elements): a failed photo's page, not each photo's.
            shape = tuple((v.role, v.status, answers[v.role].shape) for v in found)
            if found and shape not in shapes:
                shapes.add(shape)
                visits += found
            elif not found:
                reasons.append(_not_a_page(answers.values()))
                if all(answer.status == 405 for answer in answers.values()):
                    break  # an action: the other values would answer the same
        if errors:
            result.append(Classified(route, "server error", "; ".join(errors)))
        elif visits:
            result.append(Classified(route, "page", visits=visits))
        elif route.model_admin is not None and answers.get(STAFF) and answers[STAFF].status == 403:
            result.append(Classified(route, "not a page", "the back office does not allow it (403 for staff)"))
        elif any(reasons):
            result.append(Classified(route, "not a page", next(r for r in reasons if r)))
        else:
            result.append(Classified(route, "unclassified", f"no role gets a page or a file at {paths[0]}"))
    return result
