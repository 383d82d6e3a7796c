# METADATA
# title: Production inference runs at least two replicas
# description: >-
#   One replica of a production inference service goes down with every node drain, rollout and
#   crash; two keep it answering.
# custom:
#   id: STK-004
#   severity: deny
#   remediation: Set replicas to 2 or more on inference workloads of stacks labelled tier production.
package govops.policies.stk_004

import data.govops.lib.catalog
import data.govops.lib.messages
import data.govops.lib.stacks
import rego.v1

deny contains result if {
	some name, stack in catalog.stacks
	stacks.production(stack)
	some i, workload in stacks.workloads(stack)
	object.get(workload, "kind", "") == "inference"
	replicas := stacks.replicas(workload)
	replicas < 2
	result := {
		"id": "STK-004",
		"msg": concat("", [
			"Inference workload ", stacks.workload_label(i, workload), " of production stack ", name,
			" runs ", messages.str(replicas), " replica(s): run at least 2 so it survives a node or pod failure.",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, "replicas"),
	}
}
