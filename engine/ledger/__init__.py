"""The ledger: an append-only, hash-chained, signed audit trail on `refs/govops/ledger` of the
governed repo (`store.py`, `chain.py`), and the SQLite index that answers auditors' queries
(`index.py`). Entries are never edited or removed; anything that changes one is detected."""
