package govops.policies.dat_001_test

import data.govops.policies.dat_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

production := {"metadata": {"name": "prod", "labels": {"tier": "production"}}}

# A production stack serving model m, which trains on dataset d.
serving(dataset_spec, stack_labels) := {
	"Dataset": {"d": {"spec": dataset_spec}},
	"Model": {"m": {"spec": {"datasets": ["d"]}}},
	"Stack": {"prod": {
		"metadata": {"name": "prod", "labels": stack_labels},
		"spec": {"workloads": [{"name": "chat", "model": "m", "environment": "e"}]},
	}},
}

test_allows_declared_non_pii_dataset_in_production if {
	objects := serving({"license": "MIT", "pii": false}, {"tier": "production"})
	results := dat_001.deny with input.objects as objects
	count(results) == 0
}

test_allows_pii_dataset_outside_production if {
	objects := serving({"license": "MIT", "pii": true}, {"tier": "staging"})
	results := dat_001.deny with input.objects as objects
	count(results) == 0
}

test_allows_pii_dataset_no_model_uses if {
	objects := {"Dataset": {"d": {"spec": {"license": "MIT", "pii": true}}}}
	results := dat_001.deny with input.objects as objects
	count(results) == 0
}

test_denies_pii_dataset_behind_production_model if {
	objects := serving({"license": "MIT", "pii": true}, {"tier": "production"})
	results := dat_001.deny with input.objects as objects
	located(results) == {{"id": "DAT-001", "kind": "Dataset", "name": "d", "field": "spec.pii"}}
	some r in results
	contains(r.msg, "model m")
	contains(r.msg, "stack prod")
}

test_denies_once_per_production_stack if {
	base := serving({"license": "MIT", "pii": true}, {"tier": "production"})
	second := {"metadata": {"labels": {"tier": "production"}}, "spec": {"workloads": [{"model": "m"}, {"model": "m"}]}}
	objects := object.union(base, {"Stack": {"prod": base.Stack.prod, "prod-eu": second}})
	results := dat_001.deny with input.objects as objects
	count(results) == 2
	located(results) == {{"id": "DAT-001", "kind": "Dataset", "name": "d", "field": "spec.pii"}}
}

test_denies_missing_license if {
	objects := {"Dataset": {"d": {"spec": {"pii": false}}, "blank": {"spec": {"pii": false, "license": ""}}}}
	results := dat_001.deny with input.objects as objects
	located(results) == {
		{"id": "DAT-001", "kind": "Dataset", "name": "d", "field": "spec.license"},
		{"id": "DAT-001", "kind": "Dataset", "name": "blank", "field": "spec.license"},
	}
}

test_denies_missing_or_non_boolean_pii if {
	objects := {"Dataset": {
		"absent": {"spec": {"license": "MIT"}},
		"text": {"spec": {"license": "MIT", "pii": "no"}},
	}}
	results := dat_001.deny with input.objects as objects
	located(results) == {
		{"id": "DAT-001", "kind": "Dataset", "name": "absent", "field": "spec.pii"},
		{"id": "DAT-001", "kind": "Dataset", "name": "text", "field": "spec.pii"},
	}
}

test_ignores_workloads_of_missing_models if {
	objects := {
		"Dataset": {"d": {"spec": {"license": "MIT", "pii": true}}},
		"Stack": {"prod": {"metadata": {"labels": {"tier": "production"}}, "spec": {"workloads": [{"model": "m"}]}}},
	}
	results := dat_001.deny with input.objects as objects
	count(results) == 0
}
