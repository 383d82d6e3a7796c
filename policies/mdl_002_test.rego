package govops.policies.mdl_002_test

import data.govops.policies.mdl_002
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

models(license) := {"Model": {"m": {"spec": {"license": license}}}}

test_allows_shipped_default_license if {
	objects := models("Apache-2.0")
	results := mdl_002.deny with input.objects as objects
	count(results) == 0
}

test_denies_license_not_allowed if {
	objects := models("llama3")
	results := mdl_002.deny with input.objects as objects
	located(results) == {{"id": "MDL-002", "kind": "Model", "name": "m", "field": "spec.license"}}
	some r in results
	contains(r.msg, "Apache-2.0, BSD-3-Clause, MIT")
}

test_denies_missing_or_blank_license if {
	objects := {"Model": {"none": {"spec": {}}, "blank": {"spec": {"license": "  "}}}}
	results := mdl_002.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-002", "kind": "Model", "name": "none", "field": "spec.license"},
		{"id": "MDL-002", "kind": "Model", "name": "blank", "field": "spec.license"},
	}
}

test_config_override_allows if {
	objects := models("llama3")
	results := mdl_002.deny with input.objects as objects with data.govops.config.allowedLicenses as ["llama3"]
	count(results) == 0
}

test_config_override_replaces_default if {
	objects := models("MIT")
	results := mdl_002.deny with input.objects as objects with data.govops.config.allowedLicenses as ["llama3"]
	located(results) == {{"id": "MDL-002", "kind": "Model", "name": "m", "field": "spec.license"}}
}

test_license_match_is_exact if {
	objects := models("apache-2.0")
	results := mdl_002.deny with input.objects as objects
	count(results) == 1
}

test_no_configured_list_allows_nothing if {
	objects := models("MIT")
	results := mdl_002.deny with input.objects as objects with data.govops.config as {}
	located(results) == {{"id": "MDL-002", "kind": "Model", "name": "m", "field": "spec.license"}}
	[r] := [r | some r in results]
	contains(r.msg, "(none)")
}
