package govops.policies.stk_004_test

import data.govops.policies.stk_004
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

labelled_stack(labels, workloads) := {"Stack": {"s": {"metadata": {"name": "s", "labels": labels}, "spec": {"workloads": workloads}}}}

production := {"tier": "production"}

test_allows_two_replicas_in_production if {
	objects := labelled_stack(production, [{"kind": "inference", "replicas": 2}])
	results := stk_004.deny with input.objects as objects
	count(results) == 0
}

test_allows_single_replica_outside_production if {
	objects := labelled_stack({"tier": "staging"}, [{"kind": "inference", "replicas": 1}])
	results := stk_004.deny with input.objects as objects
	count(results) == 0
	unlabelled := {"Stack": {"s": {"spec": {"workloads": [{"kind": "inference"}]}}}}
	count(stk_004.deny) == 0 with input.objects as unlabelled
}

test_allows_single_replica_batch_in_production if {
	objects := labelled_stack(production, [{"kind": "training"}, {"replicas": 1}])
	results := stk_004.deny with input.objects as objects
	count(results) == 0
}

test_denies_default_single_replica if {
	objects := labelled_stack(production, [{"kind": "inference", "replicas": 3}, {"name": "chat", "kind": "inference"}])
	results := stk_004.deny with input.objects as objects
	located(results) == {{"id": "STK-004", "kind": "Stack", "name": "s", "field": "spec.workloads[1].replicas"}}
}

test_denies_explicit_single_and_zero_replicas if {
	objects := labelled_stack(production, [{"kind": "inference", "replicas": 1}, {"kind": "inference", "replicas": 0}])
	results := stk_004.deny with input.objects as objects
	{r.field | some r in results} == {"spec.workloads[0].replicas", "spec.workloads[1].replicas"}
}
