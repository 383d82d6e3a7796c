package govops.policies.mdl_003_test

import data.govops.policies.mdl_003
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

test_allows_existing_datasets if {
	objects := {
		"Model": {"m": {"spec": {"datasets": ["a", "b"]}}},
		"Dataset": {"a": {"spec": {}}, "b": {"spec": {}}},
	}
	results := mdl_003.deny with input.objects as objects
	count(results) == 0
}

test_allows_model_without_datasets if {
	results := mdl_003.deny with input.objects as {"Model": {"m": {"spec": {}}}}
	count(results) == 0
}

test_denies_each_missing_dataset_by_index if {
	objects := {
		"Model": {"m": {"spec": {"datasets": ["a", "ghost", "b", "phantom"]}}},
		"Dataset": {"a": {"spec": {}}, "b": {"spec": {}}},
	}
	results := mdl_003.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-003", "kind": "Model", "name": "m", "field": "spec.datasets[1]"},
		{"id": "MDL-003", "kind": "Model", "name": "m", "field": "spec.datasets[3]"},
	}
}

test_denies_when_no_dataset_objects_at_all if {
	results := mdl_003.deny with input.objects as {"Model": {"m": {"spec": {"datasets": ["a"]}}}}
	located(results) == {{"id": "MDL-003", "kind": "Model", "name": "m", "field": "spec.datasets[0]"}}
}

test_denies_an_evaluation_on_a_missing_dataset if {
	objects := {
		"Model": {"m": {"spec": {"evaluations": [
			{"metric": "mmlu", "value": 0.6, "dataset": "mmlu"},
			{"metric": "arena", "value": 0.5, "dataset": "arena-hard"},
			{"metric": "latency", "value": 12},
		]}}},
		"Dataset": {"mmlu": {"spec": {}}},
	}
	results := mdl_003.deny with input.objects as objects
	located(results) == {{"id": "MDL-003", "kind": "Model", "name": "m", "field": "spec.evaluations[1].dataset"}}
	some r in results
	contains(r.msg, "\"arena\" on dataset \"arena-hard\"")
}

test_a_fine_tune_names_an_existing_base_model if {
	objects := {"Model": {"base": {"spec": {}}, "tuned": {"spec": {"baseModel": "base"}}}}
	results := mdl_003.deny with input.objects as objects
	count(results) == 0
}

test_denies_a_missing_or_circular_base_model if {
	objects := {"Model": {
		"tuned": {"spec": {"baseModel": "llama-3-8b"}},
		"self": {"spec": {"baseModel": "self"}},
	}}
	results := mdl_003.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-003", "kind": "Model", "name": "tuned", "field": "spec.baseModel"},
		{"id": "MDL-003", "kind": "Model", "name": "self", "field": "spec.baseModel"},
	}
}
