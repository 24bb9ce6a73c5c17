"""The parse and validation caches and the persisted queries of the schema: a repeated document
is parsed and validated once, a refused one is still refused with its message each time, and a
client may send only the hash of a document the server holds."""

from __future__ import annotations

import hashlib
import uuid

from gateway.hardening import CACHED_DOCUMENTS
from tests.unit.gateway.conftest import Api, token


def caches():  # noqa: ANN201 - strawberry's shared LRU wrappers
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    return _get_parse_cache(CACHED_DOCUMENTS), _get_validate_cache(CACHED_DOCUMENTS)


def unique(query: str) -> str:
    """The same operation as a document text no other test sends (a comment makes it new)."""
    return f"# {uuid.uuid4()}\n{query}"


def test_a_repeated_document_is_parsed_and_validated_once(api: Api) -> None:
    parse, validate = caches()
    query = unique("{ me { agency role } }")
    before = parse.cache_info(), validate.cache_info()
    for _ in range(5):
        assert api(query, as_=token("usmp"))["me"] == {"agency": "usmp", "role": "DOCTOR"}
    after = parse.cache_info(), validate.cache_info()
    assert after[0].misses - before[0].misses == 1 and after[0].hits - before[0].hits >= 4
    assert after[1].misses - before[1].misses == 1 and after[1].hits - before[1].hits >= 4


def test_a_cached_validation_error_is_reported_on_every_request(api: Api) -> None:
    query = unique("{ me { agency nopeField } }")
    bodies = [api.post(query, as_=token("usmp")).json() for _ in range(3)]
    assert all(b["data"] is None for b in bodies)
    assert len({b["errors"][0]["message"] for b in bodies}) == 1
    assert "nopeField" in bodies[0]["errors"][0]["message"]


def test_a_query_refused_by_a_rule_is_refused_in_french_each_time_from_the_cache(api: Api) -> None:
    aliases = unique("{ " + " ".join(f"a{i}: me {{ agency }}" for i in range(20)) + " }")
    for _ in range(3):
        body = api.post(aliases, as_=token("usmp")).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "QUERY_REFUSED"
        assert body["errors"][0]["message"] == "Requête refusée : 20 alias (maximum 15)."


def test_a_syntax_error_is_reported_every_time_and_never_cached_as_a_document(api: Api) -> None:
    parse, _ = caches()
    query = unique("{ me { agency ")
    for _ in range(2):
        body = api.post(query, as_=token("usmp")).json()
        assert body["data"] is None and "Syntax Error" in body["errors"][0]["message"]
    assert parse.cache_info().currsize <= CACHED_DOCUMENTS


def persisted(sha: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


def test_a_persisted_query_is_answered_from_its_hash_once_the_server_holds_it(api: Api) -> None:
    query = unique("{ me { agency professional } }")
    sha = hashlib.sha256(query.encode()).hexdigest()
    headers = {"Authorization": f"Bearer {token('pass')}"}
    first = api.client.post("/graphql", json={"extensions": persisted(sha)}, headers=headers).json()
    assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = api.client.post("/graphql", json={"query": query, "extensions": persisted(sha)}, headers=headers)
    assert registered.json()["data"]["me"]["agency"] == "pass"
    again = api.client.post("/graphql", json={"extensions": persisted(sha)}, headers=headers).json()
    assert again == registered.json()


def test_a_persisted_query_whose_hash_does_not_match_is_refused(api: Api) -> None:
    query = unique("{ me { agency } }")
    headers = {"Authorization": f"Bearer {token('pass')}"}
    wrong = hashlib.sha256(b"{ me { role } }").hexdigest()
    body = api.client.post("/graphql", json={"query": query, "extensions": persisted(wrong)}, headers=headers).json()
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    later = api.client.post("/graphql", json={"extensions": persisted(wrong)}, headers=headers).json()
    assert later["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # nothing was kept


def test_the_persisted_documents_are_bounded() -> None:
    from gateway.hardening import PersistedDocuments

    documents = PersistedDocuments(maxsize=3)
    for n in range(5):
        documents.put(f"h{n}", f"{{ me {{ agency }} }} # {n}")
    assert len(documents) == 3
    assert documents.get("h0") is None and documents.get("h4") is not None
