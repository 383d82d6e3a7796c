# METADATA
# title: Waivers are justified, approved by signature and short-lived
# description: >-
#   A waiver lets a known violation ship. It must say why, be approved by signatures of the
#   approvers the trust root names (meeting their threshold, none of them an author of the
#   waiver), and expire within 90 days of that approval so it is reviewed again; an expired
#   waiver waives nothing. The engine verifies the approvals; this policy reads the result.
# custom:
#   id: WVR-001
#   severity: deny
#   remediation: >-
#     Give the waiver a spec.reason and a spec.expires date at most 90 days after its approval,
#     then have approvers who did not write it approve it: `govops approve NAME --key KEY`.
#     Changing the waiver (its expiry included) needs a new approval. Renew an expired waiver
#     the same way, or fix what it waived and delete it.
package govops.policies.wvr_001

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

max_days := 90

# Days before expiry from which an approved waiver is reported (a warn result).
warn_days := days if {
	days := data.govops.config.waiverWarnDays
	is_number(days)
} else := 14

deny contains result if {
	some name, waiver in catalog.waivers
	not catalog.text_at(waiver, ["spec", "reason"])
	result := violation(name, "spec.reason", concat("", ["Waiver ", name, " gives no spec.reason: say why the violation is acceptable."]))
}

deny contains result if {
	some name, _ in catalog.waivers
	not approved(name)
	result := violation(name, "metadata.name", concat("", ["Waiver ", name, " ", unapproved(name), "."]))
}

deny contains result if {
	some name, waiver in catalog.waivers
	not expires_day(name)
	result := violation(name, "spec.expires", concat("", ["Waiver ", name, " ", expiry_problem(waiver), ": set a date at most 90 days away."]))
}

deny contains result if {
	some name, waiver in catalog.waivers
	expires_day(name) < input.today
	result := violation(name, "spec.expires", concat("", [
		"Waiver ", name, " expired on ", messages.str(object.get(waiver, ["spec", "expires"], "its expiry date")),
		", waives nothing: renew it or remove it.",
	]))
}

deny contains result if {
	some name, _ in catalog.waivers
	approved_day := object.get(catalog.waiver_facts, [name, "approval", "approvedDay"], null)
	is_number(approved_day)
	days := expires_day(name) - approved_day
	days > max_days
	result := violation(name, "spec.expires", concat("", [
		"Waiver ", name, " expires ", messages.str(days), " days after its approval on ",
		messages.str(catalog.waiver_facts[name].approval.approvedAt), ", more than the ",
		messages.str(max_days), " allowed.",
	]))
}

warn contains result if {
	some name, waiver in catalog.waivers
	approved(name)
	left := expires_day(name) - input.today
	left >= 0
	left <= warn_days
	result := violation(name, "spec.expires", concat("", [
		"Waiver ", name, " expires in ", messages.str(left), " days (", messages.str(waiver.spec.expires),
		"): renew it with a new approval, or fix what it waives.",
	]))
}

approved(name) if catalog.waiver_facts[name].approval.approved == true

unapproved(name) := concat("", ["cannot be approved: ", problem]) if {
	problem := catalog.waiver_facts[name].approval.problem
	is_string(problem)
} else := concat("", [
	"is not approved: it has ", messages.str(count(approval.approvedBy)), " of the ",
	messages.str(approval.needed), " approvals it needs from the approvers of trust root ",
	messages.str(approval.trustRoot), refusals(approval),
	"; an approver who did not write it records one with govops approve ", name,
]) if {
	approval := catalog.waiver_facts[name].approval
} else := "has no approval the engine could check"

refusals(approval) := concat("", [" (not counted: ", concat("; ", approval.refused), ")"]) if {
	count(approval.refused) > 0
} else := ""

# The engine parses the date; null (or no record at all) leaves this undefined, never null,
# because null sorts before every number and would read as long expired.
expires_day(name) := day if {
	day := object.get(catalog.waiver_facts, [name, "expiresDay"], null)
	is_number(day)
}

expiry_problem(waiver) := "sets no spec.expires" if {
	object.get(waiver, ["spec", "expires"], null) == null
} else := concat("", ["has spec.expires ", messages.quote(waiver.spec.expires), ", which is not a date"])

violation(name, field, msg) := {"id": "WVR-001", "msg": msg, "kind": "Waiver", "name": name, "field": field}
