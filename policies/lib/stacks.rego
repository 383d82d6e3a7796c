# METADATA
# title: Stack and workload accessors
# description: >-
#   Workloads with their defaults, the field paths results point at, and which models serve in
#   production stacks.
package govops.lib.stacks

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

# Workload key -> the kind it names and the objects of that kind. A rule (computed once by both
# engines; rego-cpp recomputes function bodies on every call) kept in this lib package because
# the engine copies every package-level rule of data.govops.policies out of OPA.
references := {
	"model": {"kind": "Model", "objects": catalog.models},
	"environment": {"kind": "Environment", "objects": catalog.environments},
}

workloads(stack) := catalog.list_at(stack, ["spec", "workloads"])

# Kubernetes defaults: one replica, and one GPU per replica for a GPU stack.
replicas(workload) := object.get(workload, "replicas", 1)

gpus_per_replica(workload) := object.get(workload, "gpusPerReplica", 1)

production(stack) if object.get(stack, ["metadata", "labels", "tier"], "") == "production"

# Dotted path of a workload field, as the engine maps it to file:line.
workload_field(i, key) := concat("", ["spec.workloads[", messages.str(i), "].", key])

# How messages name a workload: its name, or its position when it has none.
workload_label(i, workload) := name if {
	name := catalog.text_at(workload, ["name"])
} else := concat("", ["#", messages.str(i)])

# The Model object a workload names, undefined when it names none or one that does not exist
# (STK-002 reports those; the other rules then stay silent instead of piling up).
workload_model(workload) := catalog.models[workload.model]

# Every (production stack, existing model) pair a workload of that stack creates.
production_model_uses contains {"stack": stack_name, "model": workload.model} if {
	some stack_name, stack in catalog.stacks
	production(stack)
	some workload in workloads(stack)
	workload_model(workload)
}
