"""The policy stage: the Rego library and a repo's own policies (`library`), the evaluation
input built from a catalog (`input`), the backends that run Rego (`backends/`), waivers and the
Decision (`evaluate`, `decision`), results marked new or existing against a base (`baseline`),
and `opa test`-style runs (`testing`). It reads catalogs and advisories, never git history of
its own accord and never the ledger."""
