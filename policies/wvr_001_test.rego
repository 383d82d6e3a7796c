package govops.policies.wvr_001_test

import data.govops.policies.wvr_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

# 2026-11-24 as days since 1970-01-01.
today := 20781

waiver := {"spec": {
	"policy": "MDL-002",
	"target": {"kind": "Model", "name": "m"},
	"reason": "Legal approved the license (LEGAL-123)",
	"expires": "2027-01-31",
}}

waiver_with(spec) := {"Waiver": {"w": {"spec": object.union(waiver.spec, spec)}}}

approval(approved_day) := {
	"approved": true, "approvedBy": ["legal@acme.test"], "needed": 1,
	"approvedAt": "2026-11-20T09:00:00Z", "approvedDay": approved_day, "refused": [],
	"trustRoot": "sha256:ab12", "problem": null,
}

# A waiver approved on `approved_day` that expires on `expires_day`.
facts(approved_day, expires_day) := {"w": {"expiresDay": expires_day, "approval": approval(approved_day)}}

unapproved(fields) := {"w": {"expiresDay": 20849, "approval": object.union(approval(20777), object.union({"approved": false, "approvedBy": []}, fields))}}

test_allows_approved_waiver_within_90_days if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(20777, 20849)
		with input.today as day
	count(results) == 0
}

test_allows_exactly_90_days_and_expiry_today if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today - 90, today)
		with input.today as day
	count(results) == 0
}

test_approved_by_free_text_is_not_an_approval if {
	day := today
	objects := waiver_with({"approvedBy": ["alice@acme.test"]})
	results := wvr_001.deny with input.objects as objects with input.waivers as unapproved({}) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "metadata.name"}}
	[r] := [r | some r in results]
	r.msg == "Waiver w is not approved: it has 0 of the 1 approvals it needs from the approvers of trust root sha256:ab12; an approver who did not write it records one with govops approve w."
}

test_unapproved_says_which_approvals_did_not_count if {
	day := today
	refused := ["key 3f2a of ada@acme.test wrote the waiver", "key 99aa is not an approver"]
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as unapproved({"needed": 2, "approvedBy": ["legal@acme.test"], "refused": refused})
		with input.today as day
	[r] := [r | some r in results]
	contains(r.msg, "it has 1 of the 2 approvals")
	contains(r.msg, "(not counted: key 3f2a of ada@acme.test wrote the waiver; key 99aa is not an approver)")
}

test_a_problem_with_the_trust_root_is_named if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as unapproved({"problem": "no trust root is pinned on this machine", "trustRoot": null})
		with input.today as day
	[r] := [r | some r in results]
	r.msg == "Waiver w cannot be approved: no trust root is pinned on this machine."
}

test_denies_a_waiver_the_engine_knows_nothing_about if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}} with input.waivers as {} with input.today as day
	located(results) == {
		{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"},
		{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "metadata.name"},
	}
}

test_denies_blank_reason if {
	day := today
	objects := waiver_with({"reason": "   "})
	results := wvr_001.deny with input.objects as objects with input.waivers as facts(20777, 20849) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.reason"}}
}

test_denies_missing_reason if {
	day := today
	objects := {"Waiver": {"w": {"spec": object.remove(waiver.spec, ["reason"])}}}
	results := wvr_001.deny with input.objects as objects with input.waivers as facts(20777, 20849) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.reason"}}
}

test_denies_missing_expiry if {
	day := today
	objects := {"Waiver": {"w": {"spec": object.remove(waiver.spec, ["expires"])}}}
	results := wvr_001.deny with input.objects as objects with input.waivers as facts(20777, null) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	contains(r.msg, "sets no spec.expires")
}

test_denies_unparsed_expiry if {
	day := today
	objects := waiver_with({"expires": "soon"})
	results := wvr_001.deny with input.objects as objects with input.waivers as facts(20777, null) with input.today as day
	[r] := [r | some r in results]
	r.field == "spec.expires"
	contains(r.msg, "\"soon\"")
}

test_denies_expired_waiver if {
	day := today
	objects := waiver_with({"expires": "2026-01-01"})
	results := wvr_001.deny with input.objects as objects with input.waivers as facts(20423, 20454) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	r.msg == "Waiver w expired on 2026-01-01, waives nothing: renew it or remove it."
}

test_the_clock_starts_at_the_approval if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today, today + 91)
		with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	r.msg == "Waiver w expires 91 days after its approval on 2026-11-20T09:00:00Z, more than the 90 allowed."
}

test_expired_and_too_long_are_two_results if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today - 200, today - 1)
		with input.today as day
	count(results) == 2
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
}

test_warns_before_expiry if {
	day := today
	warnings := wvr_001.warn with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today - 80, today + 10)
		with input.today as day
	[r] := [r | some r in warnings]
	r.field == "spec.expires"
	r.msg == "Waiver w expires in 10 days (2027-01-31): renew it with a new approval, or fix what it waives."
}

test_no_warning_far_from_expiry_nor_for_an_unapproved_waiver if {
	day := today
	far := wvr_001.warn with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today - 10, today + 15)
		with input.today as day
	count(far) == 0
	pending := wvr_001.warn with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as {"w": {"expiresDay": today + 3, "approval": object.union(approval(today), {"approved": false})}}
		with input.today as day
	count(pending) == 0
}

test_warning_days_are_configurable if {
	day := today
	warnings := wvr_001.warn with input.objects as {"Waiver": {"w": waiver}}
		with input.waivers as facts(today - 10, today + 15)
		with input.today as day
		with data.govops.config.waiverWarnDays as 30
	count(warnings) == 1
}
