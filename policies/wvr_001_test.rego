package govops.policies.wvr_001_test

import data.govops.policies.wvr_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

# 2026-11-24 as days since 1970-01-01.
today := 20781

approved := {"spec": {
	"policy": "MDL-002",
	"target": {"kind": "Model", "name": "m"},
	"reason": "Legal approved the license (LEGAL-123)",
	"approvedBy": ["alice@acme.test"],
	"expires": "2027-01-31",
}}

waiver_with(spec) := {"Waiver": {"w": {"spec": object.union(approved.spec, spec)}}}

dates(added_day, expires_day) := {"w": {"added": "2026-11-20T09:00:00Z", "addedDay": added_day, "commit": null, "expiresDay": expires_day}}

test_allows_approved_waiver_within_90_days if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": approved}}
		with input.waivers as dates(20777, 20849)
		with input.today as day
	count(results) == 0
}

test_allows_exactly_90_days_and_expiry_today if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": approved}}
		with input.waivers as dates(today - 90, today)
		with input.today as day
	count(results) == 0
}

test_denies_blank_reason if {
	day := today
	objects := waiver_with({"reason": "   "})
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20777, 20849) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.reason"}}
}

test_denies_missing_reason_and_approvers if {
	day := today
	objects := {"Waiver": {"w": {"spec": object.remove(approved.spec, ["reason", "approvedBy"])}}}
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20777, 20849) with input.today as day
	located(results) == {
		{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.reason"},
		{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.approvedBy"},
	}
}

test_denies_empty_approvers if {
	day := today
	objects := waiver_with({"approvedBy": []})
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20777, 20849) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.approvedBy"}}
}

test_denies_missing_expiry if {
	day := today
	objects := {"Waiver": {"w": {"spec": object.remove(approved.spec, ["expires"])}}}
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20777, null) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	contains(r.msg, "sets no spec.expires")
}

test_denies_unparsed_expiry if {
	day := today
	objects := waiver_with({"expires": "soon"})
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20777, null) with input.today as day
	[r] := [r | some r in results]
	r.field == "spec.expires"
	contains(r.msg, "\"soon\"")
}

test_denies_waiver_the_engine_has_no_dates_for if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": approved}} with input.waivers as {} with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
}

test_denies_expired_waiver if {
	day := today
	objects := waiver_with({"expires": "2026-01-01"})
	results := wvr_001.deny with input.objects as objects with input.waivers as dates(20423, 20454) with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	r.msg == "Waiver w expired on 2026-01-01, waives nothing: renew it or remove it."
}

test_denies_waiver_longer_than_90_days if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": approved}}
		with input.waivers as dates(today, today + 91)
		with input.today as day
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
	[r] := [r | some r in results]
	contains(r.msg, "91 days")
}

test_expired_and_too_long_are_two_results if {
	day := today
	results := wvr_001.deny with input.objects as {"Waiver": {"w": approved}}
		with input.waivers as dates(today - 200, today - 1)
		with input.today as day
	count(results) == 2
	located(results) == {{"id": "WVR-001", "kind": "Waiver", "name": "w", "field": "spec.expires"}}
}
