package govops.policies.stk_002_test

import data.govops.policies.stk_002
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

with_workloads(workloads) := {
	"Model": {"m": {"spec": {}}},
	"Environment": {"e": {"spec": {}}},
	"Stack": {"s": {"spec": {"workloads": workloads}}},
}

test_allows_existing_references if {
	objects := with_workloads([{"name": "a", "model": "m", "environment": "e"}])
	results := stk_002.deny with input.objects as objects
	count(results) == 0
}

test_allows_stack_without_workloads if {
	results := stk_002.deny with input.objects as {"Stack": {"s": {"spec": {}}}}
	count(results) == 0
}

test_denies_unknown_model_and_environment_by_index if {
	objects := with_workloads([
		{"name": "ok", "model": "m", "environment": "e"},
		{"name": "bad-model", "model": "ghost", "environment": "e"},
		{"name": "bad-env", "model": "m", "environment": "ghost"},
	])
	results := stk_002.deny with input.objects as objects
	located(results) == {
		{"id": "STK-002", "kind": "Stack", "name": "s", "field": "spec.workloads[1].model"},
		{"id": "STK-002", "kind": "Stack", "name": "s", "field": "spec.workloads[2].environment"},
	}
}

test_denies_missing_references if {
	objects := with_workloads([{"name": "empty"}])
	results := stk_002.deny with input.objects as objects
	located(results) == {
		{"id": "STK-002", "kind": "Stack", "name": "s", "field": "spec.workloads[0].model"},
		{"id": "STK-002", "kind": "Stack", "name": "s", "field": "spec.workloads[0].environment"},
	}
	some r in results
	r.msg == "Workload empty of stack s names no model."
}

test_model_of_another_kind_does_not_count if {
	objects := {"Environment": {"x": {"spec": {}}}, "Stack": {"s": {"spec": {"workloads": [{"model": "x", "environment": "x"}]}}}}
	results := stk_002.deny with input.objects as objects
	located(results) == {{"id": "STK-002", "kind": "Stack", "name": "s", "field": "spec.workloads[0].model"}}
}

test_a_misspelt_reference_names_the_closest_object if {
	objects := {
		"Model": {"bge-m3": {"spec": {}}, "llama-3-8b": {"spec": {}}},
		"Environment": {"e": {"spec": {}}},
		"Stack": {"s": {"spec": {"workloads": [{"name": "w", "model": "bge-m3-v2", "environment": "e"}]}}},
	}
	[r] := [r | some r in stk_002.deny with input.objects as objects]
	r.msg == "Workload w of stack s names model \"bge-m3-v2\", but no Model of that name exists (did you mean \"bge-m3\"?)."
}

test_a_reference_like_nothing_gets_no_suggestion if {
	objects := with_workloads([{"name": "w", "model": "qwen-72b", "environment": "e"}])
	[r] := [r | some r in stk_002.deny with input.objects as objects]
	r.msg == "Workload w of stack s names model \"qwen-72b\", but no Model of that name exists."
}
