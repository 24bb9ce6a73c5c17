"""Every error code a partner can receive, each with what it means: the list published in
docs/graphql/errors.md is generated from the code, never written by hand.

- the domain's refusals: each `DomainError` class (its code is its name in the convention of
  `domain.errors.error_code`, its meaning its French `default_reason`);
- the codes of a refused input value: `domain.errors.INPUT_ERRORS`;
- the codes the edges raise by name (`PublicError(..., "PAGE_SIZE")`, `code="FORBIDDEN"`,
  `{"code": ...}`): EDGE_ERRORS below says what each means; `raised_codes()` reads the sources
  for them, so a code raised without an entry here (or an entry no code raises) fails
  tests/unit/gateway/test_error_codes.py.

`python -m gateway.errorcodes > docs/graphql/errors.md` regenerates the list.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import domain
from domain import errors

ROOT = Path(__file__).resolve().parents[1]
#: Where the codes a partner can receive are raised.
SOURCES = ("domain", "services", "gateway", "projections", "infra")
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$")

#: The codes raised by name at the edges, with their meaning (French, for the partner guide).
EDGE_ERRORS: dict[str, str] = {
    # -- authentication, authorisation, limits
    "UNAUTHENTICATED": "Aucun jeton, ou un jeton expiré : s'authentifier (Authorization: Bearer).",
    "INVALID_TOKEN": "Jeton refusé (signature, émetteur, audience ou date) : HTTP 401.",
    "FORBIDDEN": "Le rôle ou la structure de l'appelant ne permet pas cette opération.",
    "RATE_LIMITED": "Trop de requêtes pour ce jeton ou cette adresse : HTTP 429, réessayer après Retry-After.",
    "UNKNOWN_PURPOSE": "En-tête X-Relais-Purpose hors de la liste des finalités admises : HTTP 400.",
    # -- the request itself (GraphQL over HTTP)
    "MALFORMED_REQUEST": "Corps de requête illisible (JSON invalide, pas un objet, champ attendu absent) : HTTP 400.",
    "MISSING_QUERY": "Aucun document GraphQL (« query ») dans la requête : HTTP 400.",
    "INVALID_VARIABLES": "« variables » n'est pas un objet JSON : HTTP 400.",
    "UNSUPPORTED_MEDIA_TYPE": "Content-Type autre que application/json : HTTP 400.",
    "METHOD_NOT_ALLOWED": "Méthode HTTP non admise à cette adresse (autre que POST sur /graphql) : HTTP 405 "
                          "(400 pour une mutation en GET ; l'en-tête Allow dit les méthodes admises).",
    "NOT_FOUND": "Adresse inconnue (ni /graphql, ni l'écran, ni un fichier publié) : HTTP 404.",
    "NOT_ACCEPTABLE": "Accept ne nomme ni application/graphql-response+json ni application/json : HTTP 406.",
    "BAD_REQUEST": "Requête refusée (autre motif, précisé par le message) : HTTP 400.",
    "BODY_TOO_LARGE": "Corps de requête au-delà de la taille maximale : HTTP 413.",
    "TIMEOUT": "La requête a dépassé le délai maximal : HTTP 504.",
    "QUERY_REFUSED": "Document trop profond, trop long ou avec trop d'alias (durcissement OWASP).",
    "INTROSPECTION_DISABLED": "`__schema` refusé : le schéma est publié à /graphql/schema.graphql.",
    "PERSISTED_QUERY_NOT_FOUND": "Requête persistée inconnue : renvoyer le document avec son hachage.",
    "PERSISTED_QUERY_INVALID": "Requête persistée mal formée : version 1 et sha256Hash attendus.",
    "PERSISTED_QUERY_HASH_MISMATCH": "Le hachage SHA-256 ne correspond pas au document envoyé.",
    # -- arguments of queries
    "PAGE_SIZE": "« first » hors des bornes admises (1 à 50).",
    "BAD_CURSOR": "Curseur « after » invalide (il vient d'une page précédente, tel quel).",
    "BAD_DATE": "« asOf » doit être une date passée.",
    "BAD_URL": "Adresse de webhook refusée (HTTPS public seulement).",
    "INVALID_SETTINGS": "Réglages de territoire refusés : chaque champ refusé est nommé avec son motif (refusals).",
    # -- availability of the read side
    "UNAVAILABLE": "Service indisponible sur cette instance, ou vues de lecture pas encore construites.",
    "NOT_YET_IN_EFFECT": "Commande enregistrée mais pas encore visible dans les vues de lecture : relire un peu plus tard.",
    "NOT_IN_CATALOGUE": "Nom (événement, commande, règle) inconnu du catalogue de partage.",
    # -- the directory of services (docs/directory.md)
    "UNKNOWN_SERVICE": "Service inconnu de l'annuaire.",
    "SERVICE_ALREADY_EXISTS": "Un service de l'annuaire porte déjà cet identifiant.",
    # -- commands (CommandRefused.code)
    "UNKNOWN_COMMAND": "Type de commande inconnu.",
    "UNKNOWN_PATHWAY": "Parcours inconnu, ou dont la structure de l'appelant ne fait pas partie.",
    "PATHWAY_ALREADY_EXISTS": "Un parcours porte déjà cet identifiant.",
    "WRONG_PATHWAY_KIND": "Commande réservée à un autre type de parcours.",
    "COMMAND_ID_REUSED": "Identifiant de commande déjà utilisé pour une commande différente.",
    "OCCURRED_IN_FUTURE": "« occurredAt » est dans le futur (au-delà de la dérive d'horloge admise).",
    "OCCURRED_BEFORE_OPENING": "« occurredAt » précède l'ouverture du parcours.",
    "UNKNOWN_TERRITORY": "Territoire (département) qu'aucune structure enregistrée ne couvre.",
}


def domain_refusals() -> dict[str, str]:
    """Code -> French reason of every DomainError class whose code is its name."""
    out: dict[str, str] = {}
    for module in pkgutil.iter_modules(domain.__path__):  # every refusal, whatever was imported before
        importlib.import_module(f"domain.{module.name}")

    def walk(cls: type[errors.DomainError]) -> None:
        for sub in cls.__subclasses__():
            if "code" not in vars(sub):  # a class with its own `code` raises named codes
                out[errors.error_code(sub.__name__)] = sub.default_reason
            walk(sub)

    walk(errors.DomainError)
    return out


def _literal_codes(tree: ast.AST) -> Iterator[str]:
    """String constants given as an error code: `code=...`, `{"code": ...}`, a `code`
    parameter's default, `*_CODE = ...`, the rows of a `*_REFUSALS` table, and the code argument of PublicError, CommandRejected
    and the HTTP refusals (`refuse(status, code, message)`)."""
    positional = {"PublicError": 1, "CommandRejected": 2, "_json_error": 2, "HTTPRefusal": 1}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    yield keyword.value.value
            index = positional.get(name or "")
            if index is not None and len(node.args) > index and isinstance(node.args[index], ast.Constant):
                yield node.args[index].value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant):
                    yield value.value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + list(node.args.defaults)
            defaults += list(node.args.kw_defaults)
            for arg, default in zip(args, defaults, strict=True):
                if arg.arg == "code" and isinstance(default, ast.Constant):
                    yield default.value
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(t, ast.Name) and t.id.endswith("_CODE") for t in node.targets):
                yield node.value.value
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.endswith("_REFUSALS") for t in targets):
                for item in ast.walk(node.value):  # a table of (match, code, message) rows
                    if isinstance(item, ast.Tuple):
                        yield from (e.value for e in item.elts if isinstance(e, ast.Constant))


def raised_codes(root: Path = ROOT) -> dict[str, set[str]]:
    """Code -> the source files that raise it by name."""
    out: dict[str, set[str]] = {}
    for source in SOURCES:
        for path in sorted((root / source).rglob("*.py")):
            for code in _literal_codes(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(code, str) and CODE.match(code):
                    out.setdefault(code, set()).add(str(path.relative_to(root)))
    return out


def markdown() -> str:
    """docs/graphql/errors.md."""
    lines = [
        "# Codes d'erreur de Relais",
        "",
        "Généré par `python -m gateway.errorcodes > docs/graphql/errors.md` : ne pas modifier à la main",
        "(`tests/unit/gateway/test_error_codes.py` échoue si ce fichier et le code divergent).",
        "",
        "Un code est en MAJUSCULES_SOULIGNÉES. Il figure dans `extensions.code` d'une erreur GraphQL, dans",
        "`code` d'un `CommandRefused` (avec `field`, le champ en cause, et `reason`, le motif en français),",
        "et dans `errors[0].extensions.code` d'une réponse HTTP 4xx/5xx de la passerelle (/graphql, /screen/*,",
        "une adresse inconnue). Un champ en cause est",
        "nommé dans `extensions.field` (une variable : son chemin, ex. `input.personRef`).",
        "",
        "## Valeurs refusées (variables GraphQL, commandes Kafka)",
        "",
        "| Code | Motif |",
        "|---|---|",
        *(f"| `{code}` | {reason} |" for code, reason in errors.INPUT_ERRORS.items()),
        "",
        "## Requêtes, authentification, limites",
        "",
        "| Code | Signification |",
        "|---|---|",
        *(f"| `{code}` | {meaning} |" for code, meaning in EDGE_ERRORS.items()),
        "",
        "## Refus métier (`CommandRefused.code`)",
        "",
        "| Code | Motif par défaut |",
        "|---|---|",
        *(f"| `{code}` | {reason} |" for code, reason in sorted(domain_refusals().items())),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
