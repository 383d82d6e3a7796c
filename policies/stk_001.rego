# METADATA
# title: Workloads stay within the stack's GPU quota
# description: >-
#   spec.gpu.quota becomes the namespace's ResourceQuota on nvidia.com/gpu; workloads that ask
#   for more would leave pods pending in the cluster instead of failing at review.
# custom:
#   id: STK-001
#   severity: deny
#   remediation: Lower replicas or gpusPerReplica, or raise spec.gpu.quota once the capacity is agreed.
package govops.policies.stk_001

import data.govops.lib.catalog
import data.govops.lib.messages
import data.govops.lib.stacks
import rego.v1

requested_gpus(stack) := sum([gpus |
	some workload in stacks.workloads(stack)
	gpus := stacks.replicas(workload) * stacks.gpus_per_replica(workload)
])

deny contains result if {
	some name, stack in catalog.stacks
	quota := object.get(stack, ["spec", "gpu", "quota"], null)
	not is_number(quota)
	result := {
		"id": "STK-001",
		"msg": concat("", ["Stack ", name, " sets no numeric spec.gpu.quota: without it the namespace has no GPU limit."]),
		"kind": "Stack",
		"name": name,
		"field": "spec.gpu.quota",
	}
}

deny contains result if {
	some name, stack in catalog.stacks
	quota := object.get(stack, ["spec", "gpu", "quota"], null)
	is_number(quota)
	requested := requested_gpus(stack)
	requested > quota
	result := {
		"id": "STK-001",
		"msg": concat("", [
			"Stack ", name, " requests ", messages.str(requested),
			" GPUs across its workloads (replicas x gpusPerReplica) but its spec.gpu.quota is ",
			messages.str(quota), ".",
		]),
		"kind": "Stack",
		"name": name,
		"field": "spec.gpu.quota",
	}
}
