"""The attest stage: in-toto statements about a revision, signed into Sigstore bundles (the
receipts), and their verification, which fails closed: anything not proven trusted is refused,
with the reason. It never reads git itself; callers hand it bytes and the trust policy."""
