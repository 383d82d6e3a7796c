# METADATA
# title: A change does not delete what a stack still uses
# description: >-
#   Deleting a Model, Dataset or Environment that a Stack's workloads still reference leaves the
#   stack undeployable (or its AIBOM incomplete); the reference has to go first, or in the same
#   change.
# custom:
#   id: CHG-001
#   severity: deny
#   needs: base     # judged only when a check compares with a base revision (--base)
#   remediation: >-
#     Remove or repoint the workloads that use the object (or the model's spec.datasets entry) in
#     the same change, or keep the object.
package govops.policies.chg_001

import data.govops.lib.catalog
import data.govops.lib.stacks
import rego.v1

# Objects this change deletes and that no other file still defines (a move or rename deletes one
# path and adds another with the same name: nothing is lost).
deleted contains [change.kind, change.name] if {
	some change in catalog.changes
	change.change == "deleted"
	not still_defined(change.kind, change.name)
}

still_defined(kind, name) if {
	objects := catalog.objects_of(kind)
	objects[name]
}

workload_fields := {"Model": "model", "Environment": "environment"}

deny contains result if {
	some [kind, object_name] in deleted
	key := workload_fields[kind]
	some name, stack in catalog.stacks
	some i, workload in stacks.workloads(stack)
	object.get(workload, key, null) == object_name
	result := {
		"id": "CHG-001",
		"msg": concat("", [
			"This change deletes ", kind, " ", object_name, ", which workload ",
			stacks.workload_label(i, workload), " of stack ", name, " still uses.",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, key),
	}
}

deny contains result if {
	some ["Dataset", dataset] in deleted
	some name, stack in catalog.stacks
	some i, workload in stacks.workloads(stack)
	model := stacks.workload_model(workload)
	dataset in catalog.list_at(model, ["spec", "datasets"])
	result := {
		"id": "CHG-001",
		"msg": concat("", [
			"This change deletes Dataset ", dataset, ", which model ", workload.model, " of workload ",
			stacks.workload_label(i, workload), " in stack ", name, " still lists.",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, "model"),
	}
}
