# METADATA
# title: Waivers are justified, approved and short-lived
# description: >-
#   A waiver lets a known violation ship. It must say why, name who approved it, and expire
#   within 90 days of being added so it is reviewed again; an expired waiver waives nothing.
# custom:
#   id: WVR-001
#   severity: deny
#   remediation: >-
#     Give the waiver a spec.reason, at least one spec.approvedBy, and a spec.expires date at most
#     90 days after the commit that adds it. Renew an expired waiver with a new approval, or fix
#     what it waived and delete it.
package govops.policies.wvr_001

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

max_days := 90

deny contains result if {
	some name, waiver in catalog.waivers
	not catalog.text_at(waiver, ["spec", "reason"])
	result := violation(name, "spec.reason", concat("", ["Waiver ", name, " gives no spec.reason: say why the violation is acceptable."]))
}

deny contains result if {
	some name, waiver in catalog.waivers
	count(catalog.list_at(waiver, ["spec", "approvedBy"])) == 0
	result := violation(name, "spec.approvedBy", concat("", ["Waiver ", name, " names no spec.approvedBy: record who approved it."]))
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
	some name, waiver in catalog.waivers
	added := object.get(catalog.waiver_dates, [name, "addedDay"], null)
	is_number(added)
	days := expires_day(name) - added
	days > max_days
	result := violation(name, "spec.expires", concat("", [
		"Waiver ", name, " expires ", messages.str(days), " days after it was added, more than the ",
		messages.str(max_days), " allowed.",
	]))
}

# The engine parses the date; null (or no record at all) leaves this undefined, never null,
# because null sorts before every number and would read as long expired.
expires_day(name) := day if {
	day := object.get(catalog.waiver_dates, [name, "expiresDay"], null)
	is_number(day)
}

expiry_problem(waiver) := "sets no spec.expires" if {
	object.get(waiver, ["spec", "expires"], null) == null
} else := concat("", ["has spec.expires ", messages.quote(waiver.spec.expires), ", which is not a date"])

violation(name, field, msg) := {"id": "WVR-001", "msg": msg, "kind": "Waiver", "name": name, "field": field}
