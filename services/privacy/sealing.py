"""The personal part of an event, sealed with the person's key, and opened again.

An event's personal fields (domain.disclosure.split_personal) leave its state and travel as
one sealed part under the key ``sealed``::

    {"alg": "A256GCM", "key": "<data key id>", "fields": ["person_ref", "actor.professional"],
     "nonce": "<base64>", "ciphertext": "<base64>"}

The field names stay readable (they say nothing of the person); the values are the ciphertext.
Opened with a destroyed key (the person was erased), each sealed field comes back as None.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from domain.disclosure import merge_personal, split_personal
from domain.values import Actor

SEALED = "sealed"


class SealedPart(Protocol):
    key: str
    fields: tuple[str, ...]

    def to_json(self) -> dict[str, Any]: ...


class Cipher(Protocol):
    """What sealing needs of the cipher adapter (infra.keystore.PersonalCipher)."""

    def seal(self, pathway_id: str, version: int, fields: tuple[str, ...], plaintext: bytes,
             person_ref: str | None = None) -> SealedPart | None:
        """None: the person's key is destroyed (erased)."""

    def open(self, pathway_id: str, version: int, sealed: Any) -> bytes | None: ...

    def parse(self, data: Any) -> SealedPart:
        """A sealed part from its JSON form (ValueError if it is none)."""

    def forget(self, key_id: str) -> None: ...


def seal(cipher: Cipher, pathway_id: str, version: int, state: Mapping[str, Any],
         encode: Callable[[dict[str, Any]], bytes]) -> dict[str, Any]:
    """`state` with its personal fields replaced by their sealed part (`encode` turns them
    into bytes: the event store's transcoder, or JSON for the wire); without them at all once
    the person is erased."""
    rest, personal = split_personal(state)
    if not personal:
        return rest
    person_ref = personal.get("person_ref")
    part = cipher.seal(pathway_id, version, tuple(personal), encode(personal),
                       person_ref=str(person_ref) if person_ref else None)
    if part is not None:
        rest[SEALED] = part.to_json()
    return rest


def open_sealed(cipher: Cipher, pathway_id: str, version: int, state: Mapping[str, Any],
                decode: Callable[[bytes], dict[str, Any]]) -> dict[str, Any]:
    """`state` with its sealed part opened (`decode` reads its plaintext)."""
    if SEALED not in state:
        return dict(state)
    rest = {k: v for k, v in state.items() if k != SEALED}
    part = cipher.parse(state[SEALED])
    plaintext = cipher.open(pathway_id, version, part)
    personal = decode(plaintext) if plaintext is not None else dict.fromkeys(part.fields)
    return merge_personal(rest, personal)


# --- the wire (JSON bodies of relais.pathway-events) -------------------------------------------
def _json(personal: dict[str, Any]) -> bytes:
    return json.dumps(personal, ensure_ascii=False, separators=(",", ":")).encode()


def seal_body(cipher: Cipher, pathway_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return seal(cipher, pathway_id, int(body["originator_version"]), body, _json)


def open_body(cipher: Cipher, pathway_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    version = body.get("originator_version")
    if not isinstance(version, int):
        return dict(body)
    return open_sealed(cipher, pathway_id, version, body, json.loads)


class SealedPartRefused(ValueError):
    """A sealed part that is malformed or does not open with its key (tampered, or not ours)."""


def body_opener(cipher: Cipher) -> Callable[[str, Mapping[str, Any]], Mapping[str, Any]]:
    """The projections' opener (projections.base.Opener): a body with its sealed part opened.
    A part that does not open is refused by name (the runner dead-letters it); the key store
    unreachable raises as it is (the runner retries)."""

    def open_one(pathway_id: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        if SEALED not in body:
            return body
        try:
            return open_body(cipher, pathway_id, body)
        except (ValueError, KeyError, TypeError) as exc:
            raise SealedPartRefused(f"sealed part refused: {type(exc).__name__}") from None
        except Exception as exc:
            if type(exc).__name__ == "InvalidTag":  # cryptography's: wrong key, or altered
                raise SealedPartRefused("sealed part refused: it does not open with its key") from None
            raise

    return open_one


def actor_as_mapping(state: dict[str, Any]) -> dict[str, Any]:
    """The event store keeps `actor` as an Actor: as a mapping, its professional can be split."""
    actor = state.get("actor")
    if isinstance(actor, Actor):
        return {**state, "actor": dataclasses.asdict(actor)}
    return state


def actor_restored(state: dict[str, Any]) -> dict[str, Any]:
    actor = state.get("actor")
    if isinstance(actor, Mapping) and not isinstance(actor, Actor):
        state["actor"] = Actor(**{k: actor.get(k) or "" for k in ("agency", "professional", "role")})
    return state
