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

test_a_misspelt_dataset_names_the_closest_dataset if {
	objects := {
		"Model": {"m": {"spec": {
			"datasets": ["wiki-corpus-2025"],
			"evaluations": [{"metric": "mmlu", "value": 0.6, "dataset": "MMLU"}],
			"baseModel": "llama-3-8B",
		}}},
		"Dataset": {"wiki-corpus-2024": {"spec": {}}, "mmlu": {"spec": {}}},
	}
	msgs := {r.msg | some r in mdl_003.deny with input.objects as objects}
	msgs == {
		"Model m names dataset \"wiki-corpus-2025\", which has no Dataset object (did you mean \"wiki-corpus-2024\"?).",
		"Model m reports its evaluation \"mmlu\" on dataset \"MMLU\", which has no Dataset object (did you mean \"mmlu\"?).",
		"Model m names base model \"llama-3-8B\", which has no Model object.",
	}
}

test_a_misspelt_base_model_names_another_model_never_itself if {
	objects := {"Model": {"llama-3-8b": {"spec": {}}, "llama-3-8b-chat": {"spec": {"baseModel": "llama-3-8b-chta"}}}}
	[r] := [r | some r in mdl_003.deny with input.objects as objects]
	r.msg == "Model llama-3-8b-chat names base model \"llama-3-8b-chta\", which has no Model object (did you mean \"llama-3-8b\"?)."
}
