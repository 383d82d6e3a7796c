"""The ledger: an append-only, hash-chained, signed audit trail on `refs/govops/ledger` of the
governed repo (`entry.py`, `store.py`, `chain.py`), the rule a deployment rests on
(`verdict.py`), how people name an entry (`reference.py`), and the SQLite index that answers
auditors' queries (`index.py`, `queries.py`, `answers.py`). Entries are never edited or removed;
anything that changes one is detected."""
