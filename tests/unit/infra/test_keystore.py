"""The key store and the cipher of the persons' fields (infra/keystore.py, issue 11)."""

from __future__ import annotations

import pytest

from infra.keystore import KeyStore, KeyStoreError, MalformedMasterKeys, MasterKeys, PersonalCipher, SqliteSql, new_master_key
from services.privacy.sealing import SealedPartRefused, body_opener, seal_body

A, B = f"a:{new_master_key()}", f"b:{new_master_key()}"


def _cipher(masters: str, path: str = ":memory:") -> PersonalCipher:
    return PersonalCipher(KeyStore(SqliteSql(path), MasterKeys.parse(masters)))


BODY = {"originator_version": 1, "person_ref": "P-SYNTH-1", "prison": "CP Zeta", "territory": "76",
        "actor": {"agency": "usmp", "professional": "dr-1", "role": "medecin"}}


def test_a_sealed_body_shows_only_its_structure_and_opens_back_whole() -> None:
    cipher = _cipher(A)
    sealed = seal_body(cipher, "p1", BODY)
    assert "P-SYNTH-1" not in repr(sealed) and "CP Zeta" not in repr(sealed) and "dr-1" not in repr(sealed)
    assert sealed["territory"] == "76" and sealed["actor"] == {"agency": "usmp", "role": "medecin"}
    assert body_opener(cipher)("p1", sealed) == BODY


def test_an_event_sealed_again_is_the_same_bytes_and_another_event_gets_another_nonce() -> None:
    """The relay republishing after a crash sends an exact repeat (same ce_id, same body)."""
    cipher = _cipher(A)
    first, again = seal_body(cipher, "p1", BODY), seal_body(cipher, "p1", BODY)
    assert first == again
    other = seal_body(cipher, "p1", {**BODY, "prison": "CP Eta"})
    assert other["sealed"]["nonce"] != first["sealed"]["nonce"]
    assert body_opener(cipher)("p1", other)["prison"] == "CP Eta"


def test_two_pathways_of_one_person_share_their_key_and_another_person_has_their_own() -> None:
    cipher = _cipher(A)
    one, two = seal_body(cipher, "p1", BODY), seal_body(cipher, "p2", BODY)
    other = seal_body(cipher, "p3", {**BODY, "person_ref": "P-SYNTH-2"})
    assert one["sealed"]["key"] == two["sealed"]["key"] != other["sealed"]["key"]


def test_a_part_moved_to_another_event_or_altered_is_refused_by_name() -> None:
    cipher = _cipher(A)
    sealed = seal_body(cipher, "p1", BODY)
    with pytest.raises(SealedPartRefused):
        body_opener(cipher)("p1", {**sealed, "originator_version": 2})  # bound to (pathway, version)
    altered = {**sealed, "sealed": {**sealed["sealed"], "ciphertext": "AAAA" + sealed["sealed"]["ciphertext"][4:]}}
    with pytest.raises(SealedPartRefused):
        body_opener(cipher)("p1", altered)


def test_a_destroyed_key_leaves_its_fields_none_and_seals_nothing_more() -> None:
    cipher = _cipher(A)
    sealed = seal_body(cipher, "p1", BODY)
    cipher.keys.destroy(sealed["sealed"]["key"], "objection")
    opened = body_opener(cipher)("p1", sealed)
    assert opened["person_ref"] is None and opened["prison"] is None and opened["territory"] == "76"
    assert "sealed" not in seal_body(cipher, "p1", {**BODY, "originator_version": 2})
    assert cipher.keys.is_erased(sealed["sealed"]["key"])


def test_rotation_rewraps_every_key_and_the_old_master_is_needed_no_more(tmp_path) -> None:
    path = str(tmp_path / "keys.sqlite3")
    old = _cipher(A, path)
    sealed = seal_body(old, "p1", BODY)
    rotating = KeyStore(SqliteSql(path), MasterKeys.parse(f"{B},{A}"))
    assert rotating.count_to_rewrap() == 2  # the person's key and the store's lookup key
    assert rotating.rewrap(batch=1) == 2 and rotating.count_to_rewrap() == 0
    assert body_opener(_cipher(B, path))("p1", sealed) == BODY
    with pytest.raises(KeyStoreError, match="absente de RELAIS_MASTER_KEYS"):
        body_opener(_cipher(f"c:{new_master_key()}", path))("p1", sealed)


@pytest.mark.parametrize("text, says", [("", "aucune clé"), ("nokey", "sans identifiant"),
                                        ("a:!!", "base64 invalide"), ("a:AAAA", "32 attendus"),
                                        (f"{A},{A}", "deux fois")])
def test_malformed_master_keys_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(MalformedMasterKeys, match=says):
        MasterKeys.parse(text)


def test_relais_check_says_in_one_french_line_what_is_wrong_with_the_master_keys(tmp_path) -> None:
    from pydantic import SecretStr

    from services.checks import CheckFailed, check_cipher_key
    from services.settings import Settings

    with pytest.raises(CheckFailed, match="RELAIS_MASTER_KEYS : clé maîtresse « k1 » : 3 octets, 32 attendus"):
        check_cipher_key(Settings(mode="embedded", state_dir=tmp_path / "s", master_keys=SecretStr("k1:YWJj")))
