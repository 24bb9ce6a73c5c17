"""Privacy of the persons: their personal fields sealed with their own key (crypto-shredding),
their erasure on the DPO's request, and the retention sweep of closed pathways.

* :mod:`services.privacy.sealing` — the catalogue's personal fields (domain.disclosure.
  PERSONAL_FIELDS) out of an event's state into one sealed part, and back; used by the event
  store's mapper, the relay (the wire) and the projections (the readers allowed to open them).
* :mod:`services.privacy.erasure` — erase a person (every pathway of theirs: PersonalDataErased,
  then their key destroyed) and the retention sweep.
The cipher itself is an adapter (infra/keystore.py), wired by services/bootstrap.py.
"""
