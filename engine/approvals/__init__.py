"""Signed waiver approvals: an approval is a ledger entry signed by an approver of the trust
root (`record`), checked signature by signature (`verify`) and judged against the waiver's
authors and the approvers' threshold (`judge`); `collect` does all three for a revision."""
