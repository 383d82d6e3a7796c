# METADATA
# title: Workloads name a Model and an Environment that exist
# description: >-
#   A workload is deployed from its Model (weights, digest) and Environment (image, packages);
#   a missing or misspelt name means nothing was reviewed for it.
# custom:
#   id: STK-002
#   severity: deny
#   remediation: Set the workload's model and environment to the names of existing Model and Environment objects.
package govops.policies.stk_002

import data.govops.lib.catalog
import data.govops.lib.messages
import data.govops.lib.stacks
import rego.v1


deny contains result if {
	some name, stack in catalog.stacks
	some i, workload in stacks.workloads(stack)
	some key, reference in stacks.references
	target := object.get(workload, key, null)
	not reference.objects[target]
	result := {
		"id": "STK-002",
		"msg": concat("", [
			"Workload ", stacks.workload_label(i, workload), " of stack ", name, " ",
			reference_problem(key, reference, target), ".",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, key),
	}
}

reference_problem(key, reference, target) := concat("", ["names no ", key]) if {
	target == null
} else := concat("", [
	"names ", key, " ", messages.quote(target), ", but no ", reference.kind, " of that name exists",
	messages.did_you_mean(target, object.keys(reference.objects)),
])
