"""The trust stage: who may sign ledger entries and receipts, and who may approve waivers, as
threshold-signed TUF metadata on `refs/govops/trust` that the governed repo's own commits
cannot change (`document`, `store`), verified from a root pinned out of band (`pin`, `verify`)
into a history that answers "who was trusted at time T" (`history`), and changed only by
proposals that the root keys sign (`change`). It reads git through the repo stage and keys
through the attest stage; it never reads govops.yaml."""
