package govops.policies.stk_001_test

import data.govops.policies.stk_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

quota_stack(quota, workloads) := {"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-h100-80gb", "quota": quota}, "workloads": workloads}}}}

test_allows_exactly_the_quota if {
	objects := quota_stack(16, [{"replicas": 2, "gpusPerReplica": 4}, {"replicas": 4, "gpusPerReplica": 2}])
	results := stk_001.deny with input.objects as objects
	count(results) == 0
}

test_defaults_one_replica_one_gpu if {
	objects := quota_stack(2, [{"name": "a"}, {"name": "b"}])
	results := stk_001.deny with input.objects as objects
	count(results) == 0
	over := quota_stack(1, [{"name": "a"}, {"name": "b"}])
	located(stk_001.deny) == {{"id": "STK-001", "kind": "Stack", "name": "s", "field": "spec.gpu.quota"}} with input.objects as over
}

test_denies_over_quota if {
	objects := quota_stack(16, [{"replicas": 3, "gpusPerReplica": 4}, {"replicas": 2, "gpusPerReplica": 4}])
	results := stk_001.deny with input.objects as objects
	located(results) == {{"id": "STK-001", "kind": "Stack", "name": "s", "field": "spec.gpu.quota"}}
	[r] := [r | some r in results]
	contains(r.msg, "requests 20 GPUs")
	contains(r.msg, "quota is 16")
}

test_allows_no_workloads if {
	results := stk_001.deny with input.objects as {"Stack": {"s": {"spec": {"gpu": {"quota": 0}}}}}
	count(results) == 0
}

test_zero_replicas_request_nothing if {
	objects := quota_stack(0, [{"replicas": 0, "gpusPerReplica": 8}])
	results := stk_001.deny with input.objects as objects
	count(results) == 0
}

test_denies_missing_quota if {
	results := stk_001.deny with input.objects as {"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-l4"}}}}}
	located(results) == {{"id": "STK-001", "kind": "Stack", "name": "s", "field": "spec.gpu.quota"}}
}
