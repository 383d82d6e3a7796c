# METADATA
# title: Each replica has the GPU memory its model needs
# description: >-
#   A model needs about parameters x bytes per parameter, plus 20% for activations and KV cache,
#   of GPU memory per replica. A workload that does not fit crashes with out-of-memory at start,
#   after it was approved and scheduled.
# custom:
#   id: STK-003
#   severity: deny
#   remediation: >-
#     Raise the workload's gpusPerReplica, pick a larger spec.gpu.type, or serve a lower-precision
#     build of the model. A GPU type or precision the library does not know goes into
#     govops.yaml (policies.gpus, policies.precisionBits); models must declare spec.parameters
#     and a spec.precision listed in data.govops.precisionBits.
package govops.policies.stk_003

import data.govops.lib.catalog
import data.govops.lib.messages
import data.govops.lib.stacks
import rego.v1

# Bytes are compared x 80 on both sides (x 8 for bits, x 10 for the 1.2 overhead) to stay in
# exact integer arithmetic: parameters * bits * 12 <= gpus * memoryGB * 1e9 * 80.
scale := 80

bytes_per_gb := 1000000000

deny contains result if {
	some name, stack in catalog.stacks
	gpu_type := object.get(stack, ["spec", "gpu", "type"], null)
	not data.govops.gpus[gpu_type]
	result := {
		"id": "STK-003",
		"msg": concat("", ["Stack ", name, " ", gpu_type_problem(gpu_type), ", so its workloads cannot be sized."]),
		"kind": "Stack",
		"name": name,
		"field": "spec.gpu.type",
	}
}

# Sizing needs both numbers from the model; without them the fit cannot be shown.
deny contains result if {
	some name, stack in catalog.stacks
	some i, workload in stacks.workloads(stack)
	model := stacks.workload_model(workload)
	not scaled_need(model)
	result := {
		"id": "STK-003",
		"msg": concat("", [
			"Workload ", stacks.workload_label(i, workload), " of stack ", name, " uses model ", workload.model,
			", which declares ", sizing_problem(model), ", so its GPU memory cannot be checked.",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, "model"),
	}
}

deny contains result if {
	some name, stack in catalog.stacks
	gpu := data.govops.gpus[stack.spec.gpu.type]
	some i, workload in stacks.workloads(stack)
	need := scaled_need(stacks.workload_model(workload))
	gpus := stacks.gpus_per_replica(workload)
	need > scaled_capacity(gpus, gpu)
	result := {
		"id": "STK-003",
		"msg": concat("", [
			"Workload ", stacks.workload_label(i, workload), " of stack ", name, " needs about ",
			messages.str(ceil_div(need, scale * bytes_per_gb)), " GB of GPU memory per replica for model ",
			workload.model, " but gets ", messages.str(gpus * gpu.memoryGB), " GB from ", messages.str(gpus),
			" x ", stack.spec.gpu.type, ": use at least ", messages.str(ceil_div(need, scaled_capacity(1, gpu))),
			" GPUs per replica or a larger GPU.",
		]),
		"kind": "Stack",
		"name": name,
		"field": stacks.workload_field(i, "gpusPerReplica"),
	}
}

# parameters x bits x 12 = bytes x 1.2 x 80
scaled_need(model) := parameters * bits * 12 if {
	parameters := model.spec.parameters
	is_number(parameters)
	parameters > 0
	bits := data.govops.precisionBits[model.spec.precision]
}

scaled_capacity(gpus, gpu) := ((gpus * gpu.memoryGB) * bytes_per_gb) * scale

# Integer ceiling; floor() keeps the result an integer on both backends. Exact while the
# dividend stays below 2^53 (a 10-trillion-parameter fp32 model gives 3.84e15).
ceil_div(x, d) := floor(((x + d) - 1) / d)

gpu_type_problem(gpu_type) := "sets no spec.gpu.type" if {
	gpu_type == null
} else := concat("", [
	"uses GPU type ", messages.quote(gpu_type), ", which is not in data.govops.gpus",
	messages.did_you_mean(gpu_type, object.keys(data.govops.gpus)),
])

sizing_problem(model) := "no spec.parameters" if {
	not is_number(object.get(model, ["spec", "parameters"], null))
} else := "a spec.parameters that is not positive" if {
	model.spec.parameters <= 0
} else := concat("", [
	"precision ", messages.quote(precision), ", which is not in data.govops.precisionBits",
	messages.did_you_mean(precision, object.keys(data.govops.precisionBits)),
]) if {
	precision := object.get(model, ["spec", "precision"], null)
}
