package govops.policies.chg_001_test

import data.govops.policies.chg_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

deletion(kind, name) := {"path": concat("", [lower(kind), "s/", name, ".yaml"]), "kind": kind, "name": name, "change": "deleted", "before": {}, "after": null}

# After the change: stack s still names model m, environment e; m still lists dataset d.
remaining := {
	"Model": {"m": {"spec": {"datasets": ["d"]}}},
	"Stack": {"s": {"spec": {"workloads": [
		{"name": "a", "model": "other", "environment": "other"},
		{"name": "b", "model": "m", "environment": "e"},
	]}}},
}

test_allows_deleting_unreferenced_objects if {
	objects := remaining
	changes := [deletion("Model", "unused"), deletion("Environment", "unused"), deletion("Dataset", "unused")]
	results := chg_001.deny with input.objects as objects with input.changes as changes
	count(results) == 0
}

test_allows_no_changes if {
	objects := remaining
	results := chg_001.deny with input.objects as objects with input.changes as []
	count(results) == 0
	count(chg_001.deny) == 0 with input.objects as objects
}

test_allows_added_and_modified if {
	objects := remaining
	changes := [
		object.union(deletion("Environment", "e"), {"change": "modified"}),
		object.union(deletion("Dataset", "d"), {"change": "added"}),
	]
	results := chg_001.deny with input.objects as objects with input.changes as changes
	count(results) == 0
}

test_denies_deleting_referenced_environment if {
	objects := remaining
	results := chg_001.deny with input.objects as objects with input.changes as [deletion("Environment", "e")]
	located(results) == {{"id": "CHG-001", "kind": "Stack", "name": "s", "field": "spec.workloads[1].environment"}}
}

test_denies_deleting_referenced_model if {
	objects := object.remove(remaining, ["Model"])
	results := chg_001.deny with input.objects as objects with input.changes as [deletion("Model", "m")]
	located(results) == {{"id": "CHG-001", "kind": "Stack", "name": "s", "field": "spec.workloads[1].model"}}
}

test_denies_deleting_dataset_of_a_used_model if {
	objects := remaining
	results := chg_001.deny with input.objects as objects with input.changes as [deletion("Dataset", "d")]
	located(results) == {{"id": "CHG-001", "kind": "Stack", "name": "s", "field": "spec.workloads[1].model"}}
	[r] := [r | some r in results]
	contains(r.msg, "Dataset d")
}

test_allows_moving_an_object_to_another_file if {
	objects := object.union(remaining, {"Environment": {"e": {"spec": {}}}})
	changes := [deletion("Environment", "e"), object.union(deletion("Environment", "e"), {"path": "envs/e.yaml", "change": "added"})]
	results := chg_001.deny with input.objects as objects with input.changes as changes
	count(results) == 0
}

test_denies_every_workload_that_uses_it if {
	objects := {"Stack": {
		"s1": {"spec": {"workloads": [{"model": "m"}, {"model": "m"}]}},
		"s2": {"spec": {"workloads": [{"model": "m"}]}},
	}}
	results := chg_001.deny with input.objects as objects with input.changes as [deletion("Model", "m")]
	{[r.name, r.field] | some r in results} == {
		["s1", "spec.workloads[0].model"],
		["s1", "spec.workloads[1].model"],
		["s2", "spec.workloads[0].model"],
	}
}
