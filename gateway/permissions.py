"""Authorisation, in one place: who may see which category of a pathway, and who may write.

The matrix (secret professionnel partagé, CSP L1110-4 / L1110-12):

1. Membership: an agency sees a pathway only if it takes part in it (`participants`). A
   pathway it does not take part in is, for it, a pathway that does not exist.
2. Need to know: each field is tagged with an information category (identity, social,
   administrative, medical). A role sees a category only if its job needs it (ROLE_NEEDS, in
   the disclosure catalogue, domain.disclosure).
3. Care team and consent: inside the person's care team (the lead agency and the agencies
   giving care) the role's need is enough; outside it, the person's consent for that agency
   and that category is also required. Membership and consent are read from the access read
   models (participants, consents) for each request; a withdrawal or a removal answers only
   once they applied it (gateway.mutations), so it takes effect on the next read.
4. Objection (droit d'opposition): a category the person objected to for an agency is hidden
   from it even inside the care team.
5. Emergency override (bris de glace): a professional who opened one reads, until it ends,
   what their role needs without consent and despite an objection; the role's need still
   applies. Every read under it is audited with the purpose ETREAT (gateway.context).

Hidden fields come back null, and the object's `redactions` list says which field, which
category and why. Nothing here raises on a hidden field: an error could leak its existence.

Writes: a role may send a command only if it needs the category that command writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

from domain.disclosure import (
    ALL_CATEGORIES,
    CARE_TEAM_ROLES,
    CASE_ROLES,
    ROLE_NEEDS,
    Role,
)
from domain.values import InformationCategory, ParticipantRole

# The role-needs table (Role, ROLE_NEEDS, CASE_ROLES, CARE_TEAM_ROLES) and the write policy are
# the disclosure catalogue's (domain.disclosure); the gateway's modules import them from here.

Category = InformationCategory
IDENTITY, SOCIAL, ADMINISTRATIVE, MEDICAL = (Category.IDENTITY, Category.SOCIAL,
                                             Category.ADMINISTRATIVE, Category.MEDICAL)


class Membership(StrEnum):
    NOT_PARTICIPATING = "not_participating"
    CARE_TEAM = "care_team"
    OUTSIDE_CARE_TEAM = "outside_care_team"


class Reason(StrEnum):
    """Why a field is hidden; `message` is what a French screen shows."""

    ROLE = "role"
    CONSENT = "consent"
    OBJECTION = "objection"

    @property
    def message(self) -> str:
        return {
            Reason.ROLE: "Information non nécessaire à votre rôle (besoin d'en connaître).",
            Reason.CONSENT: "La personne n'a pas consenti au partage de cette information avec votre structure.",
            Reason.OBJECTION: "La personne s'est opposée au partage de cette information avec votre structure.",
        }[self]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (from the bearer token)."""

    agency: str
    professional: str
    role: Role
    token_id: str = ""
    #: When the token stops being valid (epoch seconds); None for a caller without a token.
    expires_at: float | None = None


@dataclass(frozen=True)
class PathwayAccess:
    """What authorisation needs to know about one pathway, as loaded for this request."""

    participants: Mapping[str, ParticipantRole]
    consents: Mapping[str, Iterable[Category]]
    #: The person's objections (droit d'opposition), per agency.
    objections: Mapping[str, Iterable[Category]] = dataclasses.field(default_factory=dict)
    #: Emergency overrides in force (bris de glace): professional -> when it ends.
    emergency: Mapping[str, datetime] = dataclasses.field(default_factory=dict)
    #: The consent version in force (0: no consent change recorded yet), named by every disclosure.
    consent_version: int = 0


@dataclass(frozen=True)
class Disclosure:
    """The decision for one caller on one pathway."""

    membership: Membership
    visible: frozenset[Category]
    hidden: Mapping[Category, Reason]
    #: The consent version this decision was made on (audit records and pushes name it).
    consent_version: int = 0
    #: Made under an emergency override (bris de glace).
    emergency: bool = False

    @property
    def can_see_pathway(self) -> bool:
        return self.membership is not Membership.NOT_PARTICIPATING


def membership(agency: str, access: PathwayAccess) -> Membership:
    role = access.participants.get(agency)
    if role is None:
        return Membership.NOT_PARTICIPATING
    return Membership.CARE_TEAM if ParticipantRole(role) in CARE_TEAM_ROLES else Membership.OUTSIDE_CARE_TEAM


def _objected(agency: str, access: PathwayAccess) -> set[Category]:
    return {Category(c) for c in access.objections.get(agency, ())}


def decide(principal: Principal, access: PathwayAccess, now: datetime | None = None) -> Disclosure:
    """THE rule: see the module docstring."""
    member = membership(principal.agency, access)
    if member is Membership.NOT_PARTICIPATING or principal.role not in CASE_ROLES:
        return Disclosure(Membership.NOT_PARTICIPATING, frozenset(), dict.fromkeys(ALL_CATEGORIES, Reason.ROLE),
                          access.consent_version)
    needs = ROLE_NEEDS[principal.role]
    consented = {Category(c) for c in access.consents.get(principal.agency, ())}
    objected = _objected(principal.agency, access)
    until = access.emergency.get(principal.professional)
    emergency = until is not None and until > (now or datetime.now(timezone.utc))
    allowed = _consented_view(member, consented, objected)
    visible: set[Category] = set()
    hidden: dict[Category, Reason] = {}
    for category in ALL_CATEGORIES:
        if category not in needs:
            hidden[category] = Reason.ROLE
        elif category in allowed or emergency:
            visible.add(category)
        else:
            hidden[category] = Reason.OBJECTION if category in objected else Reason.CONSENT
    # Audited as an emergency read only when the override disclosed more than the choices do.
    return Disclosure(member, frozenset(visible), hidden, access.consent_version, bool(visible - allowed))


def _consented_view(member: Membership, consented: set[Category], objected: set[Category]) -> set[Category]:
    """What the person's choices alone disclose to an agency (no role, no override)."""
    base = set(ALL_CATEGORIES) if member is Membership.CARE_TEAM else consented
    return base - objected


def decide_for_agency(agency: str, access: PathwayAccess) -> Disclosure:
    """The same rule for a receiving system rather than a person (alerts pushed to an agency's
    Kafka consumer or webhook): no role narrows it, membership, consent and objection still
    do; an emergency override is a person's, never a system's."""
    member = membership(agency, access)
    if member is Membership.NOT_PARTICIPATING:
        return Disclosure(member, frozenset(), dict.fromkeys(ALL_CATEGORIES, Reason.ROLE), access.consent_version)
    consented = {Category(c) for c in access.consents.get(agency, ())}
    objected = _objected(agency, access)
    visible = _consented_view(member, consented, objected)
    return Disclosure(member, frozenset(visible),
                      {c: Reason.OBJECTION if c in objected else Reason.CONSENT
                       for c in ALL_CATEGORIES if c not in visible}, access.consent_version)


# --------------------------------------------------------------------------- redaction
#: strawberry field metadata key naming a field's category; ITEM = "the object's own".
CATEGORY_KEY = "relais_category"
ITEM = "item"


@dataclass(frozen=True)
class Redaction:
    field: str
    category: Category
    reason: Reason


#: (field, tag) per dataclass type: tag None (untagged), ITEM, or the field's Category.
Plan = tuple[tuple[str, "Category | str | None"], ...]
_PLANS: dict[tuple[type, int], Plan] = {}
#: Values that hold no tagged field (no dataclass inside): not walked into.
_LEAVES = frozenset({str, int, float, bool, type(None), UUID, datetime, date})


def _plan(cls: type, categories: Mapping[type, Mapping[str, str]]) -> Plan:
    """(field, tag) of a dataclass type, computed once per type and category table."""
    key = (cls, id(categories))
    plan = _PLANS.get(key)
    if plan is None:
        tagged = categories.get(cls, {})

        def tag(name: str) -> Category | str | None:
            value = tagged.get(name)
            return value if value is None or value == ITEM else Category(value)

        plan = tuple((f.name, tag(f.name)) for f in dataclasses.fields(cls) if not f.name.startswith("_"))
        _PLANS[key] = plan
    return plan


def redact(obj: Any, disclosure: Disclosure, categories: Mapping[type, Mapping[str, str]],
           returned: set[Category] | None = None, path: str = "") -> list[Redaction]:
    """Null every tagged field of `obj` (a dataclass tree) whose category is not visible.

    `categories[type][field]` is the field's category, or ITEM for "the category the object
    carries in its `info_category` attribute" (a need about addiction is medical, one about
    housing is social). Returns what was hidden; adds to `returned` the categories left in.
    The fields of each type and their tags are listed once per type (`_plan`), not per object;
    scalar values (text, numbers, dates, ids, enums) are not walked into.
    """
    hidden: list[Redaction] = []
    visible = disclosure.visible
    for name, tag in _plan(type(obj), categories):
        value = getattr(obj, name)
        if tag is not None:
            category = obj.info_category if tag == ITEM else tag
            if type(category) is not Category:
                category = Category(category)
            if category not in visible:
                if value is not None:
                    setattr(obj, name, None)
                hidden.append(Redaction(f"{path}{name}", category, disclosure.hidden.get(category, Reason.ROLE)))
                continue
            if returned is not None and value is not None and value != [] and value != "":
                returned.add(category)
        kind = type(value)
        if kind in _LEAVES or isinstance(value, Enum):
            continue
        if kind is list:
            for index, item in enumerate(value):
                if type(item) not in _LEAVES and hasattr(type(item), "__dataclass_fields__"):
                    hidden += redact(item, disclosure, categories, returned, f"{path}{name}[{index}].")
        elif hasattr(kind, "__dataclass_fields__"):
            hidden += redact(value, disclosure, categories, returned, f"{path}{name}.")
    return hidden


# --------------------------------------------------------------------------- what a query returned
#: Resolver fields that return a part of a stored field (selecting them reads that field).
DERIVED_FIELDS = {"openNeeds": "needs", "openAlerts": "alerts"}


def selected_names(selections: Iterable[Any]) -> frozenset[str]:
    """Every field name a GraphQL selection (strawberry's `info.selected_fields`) asks for, at
    any depth, fragments included."""
    names: set[str] = set()
    pending = list(selections)
    while pending:
        selection = pending.pop()
        name = getattr(selection, "name", None)
        if name:
            names.add(DERIVED_FIELDS.get(name, name))
        pending.extend(getattr(selection, "selections", None) or [])
    return frozenset(names)


#: id(field node) -> (the node, kept alive so that its id is not reused; its names). Bounded.
_SELECTED: dict[int, tuple[Any, frozenset[str]]] = {}
_SELECTED_MAX = 4096


def selected_names_of(info: Any) -> frozenset[str]:
    """`selected_names(info.selected_fields)` read straight from the query's syntax tree, once
    per field of a document (the parse cache hands the same tree to every request of that
    document): a fragment's fields count, and a selection that `@skip`/`@include` leaves out
    does not (the audit names what the answer really holds). A selection under such a
    directive depends on the request's variables, so its names are not kept."""
    raw = info._raw_info  # noqa: SLF001 - the field's AST, the document's fragments, the variables
    nodes = raw.field_nodes
    if len(nodes) != 1:
        return _names_of(nodes, raw.fragments, raw.variable_values)[0]
    found = _SELECTED.get(id(nodes[0]))
    if found is not None and found[0] is nodes[0]:
        return found[1]
    names, per_request = _names_of(nodes, raw.fragments, raw.variable_values)
    if not per_request:
        if len(_SELECTED) >= _SELECTED_MAX:
            _SELECTED.clear()
        _SELECTED[id(nodes[0])] = (nodes[0], names)
    return names


def _included(selection: Any, variables: Any) -> bool:
    """graphql-core's rule: `@skip(if: true)` leaves a selection out, so does `@include(if: false)`
    (the `if` is a literal or a variable; validation made sure it is a Boolean)."""
    coerced = getattr(variables, "coerced", variables) or {}
    for directive in selection.directives:
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        argument = next((a.value for a in directive.arguments if a.name.value == "if"), None)
        value = coerced.get(argument.name.value) if argument is not None and argument.kind == "variable" \
            else getattr(argument, "value", None)
        if value is (name == "skip"):
            return False
    return True


def _names_of(nodes: Iterable[Any], fragments: Mapping[str, Any], variables: Any) -> tuple[frozenset[str], bool]:
    """The names under `nodes` (graphql-core FieldNodes), as `selected_names` lists them: the
    field names at every depth (the field's own included), fragment names, fragments' fields;
    and whether a directive made them depend on the request's variables."""
    names: set[str] = {DERIVED_FIELDS.get(node.name.value, node.name.value) for node in nodes}
    seen: set[str] = set()
    per_request = False
    pending = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
    while pending:
        selection = pending.pop()
        if selection.directives:
            per_request = True
            if not _included(selection, variables):
                continue
        kind = selection.kind
        if kind == "field":
            name = selection.name.value
            names.add(DERIVED_FIELDS.get(name, name))
        elif kind == "fragment_spread":
            name = selection.name.value
            names.add(name)
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            seen.add(name)
            selection = fragment
        if selection.selection_set is not None:
            pending.extend(selection.selection_set.selections)
    return frozenset(names), per_request


#: (field, its camelCase name, tag) per type and category table (returned_categories).
_SELECTION_PLANS: dict[tuple[type, int], tuple[tuple[str, str, "Category | str | None"], ...]] = {}


def returned_categories(obj: Any, selected: frozenset[str], categories: Mapping[type, Mapping[str, str]]) -> set[Category]:
    """The categories of the fields of `obj` (a redacted view) that the query selected and that
    carry a value: what the answer REALLY holds (a query selecting only `id` holds none).
    A name selected elsewhere in the query counts here too: at worst more is logged, never less."""
    found: set[Category] = set()
    key = (type(obj), id(categories))
    plan = _SELECTION_PLANS.get(key)
    if plan is None:
        plan = _SELECTION_PLANS[key] = tuple((name, _camel(name), tag) for name, tag in _plan(type(obj), categories))
    for name, camel, tag in plan:
        if camel not in selected:
            continue
        value = getattr(obj, name)
        if value is None or value == [] or value == "":
            continue
        if tag is not None:
            found.add(Category(getattr(obj, "info_category")) if tag == ITEM else Category(tag))
        kind = type(value)
        if kind in _LEAVES or isinstance(value, Enum):
            continue
        for item in (value if kind is list else (value,)):
            if hasattr(type(item), "__dataclass_fields__"):
                found |= returned_categories(item, selected, categories)
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
