package govops.policies.stk_003_test

import data.govops.policies.stk_003
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

# One nvidia-l4 (24 GB) holds exactly 10e9 bf16 parameters: 10e9 x 2 bytes x 1.2 = 24e9.
sized(parameters, precision, gpus) := {
	"Model": {"m": {"spec": {"parameters": parameters, "precision": precision}}},
	"Stack": {"s": {"spec": {
		"gpu": {"type": "nvidia-l4", "quota": 8},
		"workloads": [{"name": "w", "model": "m", "gpusPerReplica": gpus}],
	}}},
}

test_allows_exact_fit if {
	objects := sized(10000000000, "bf16", 1)
	results := stk_003.deny with input.objects as objects
	count(results) == 0
}

test_denies_one_parameter_over if {
	objects := sized(10000000001, "bf16", 1)
	results := stk_003.deny with input.objects as objects
	located(results) == {{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[0].gpusPerReplica"}}
	[r] := [r | some r in results]
	r.msg == "Workload w of stack s needs about 25 GB of GPU memory per replica for model m but gets 24 GB from 1 x nvidia-l4: use at least 2 GPUs per replica or a larger GPU."
}

test_more_gpus_per_replica_fit if {
	objects := sized(70000000000, "bf16", 8)
	results := stk_003.deny with input.objects as objects
	count(results) == 0
}

test_lower_precision_fits if {
	objects := sized(20000000000, "int8", 1)
	results := stk_003.deny with input.objects as objects
	count(results) == 0
	fp32 := sized(20000000000, "fp32", 1)
	located(stk_003.deny) == {{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[0].gpusPerReplica"}} with input.objects as fp32
}

test_defaults_to_one_gpu_per_replica if {
	objects := {
		"Model": {"m": {"spec": {"parameters": 8000000000, "precision": "fp32"}}},
		"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-l4"}, "workloads": [{"model": "m"}, {"model": "m", "gpusPerReplica": 2}]}}},
	}
	results := stk_003.deny with input.objects as objects
	located(results) == {{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[0].gpusPerReplica"}}
}

test_denies_unknown_or_missing_gpu_type if {
	objects := {"Stack": {
		"unknown": {"spec": {"gpu": {"type": "nvidia-b300"}}},
		"missing": {"spec": {"gpu": {"quota": 1}}},
	}}
	results := stk_003.deny with input.objects as objects
	located(results) == {
		{"id": "STK-003", "kind": "Stack", "name": "unknown", "field": "spec.gpu.type"},
		{"id": "STK-003", "kind": "Stack", "name": "missing", "field": "spec.gpu.type"},
	}
}

test_denies_model_without_sizing if {
	objects := {
		"Model": {
			"no-params": {"spec": {"precision": "bf16"}},
			"odd-precision": {"spec": {"parameters": 1000, "precision": "q5_k_m"}},
			"no-precision": {"spec": {"parameters": 1000}},
		},
		"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-l4"}, "workloads": [
			{"model": "no-params"}, {"model": "odd-precision"}, {"model": "no-precision"},
		]}}},
	}
	results := stk_003.deny with input.objects as objects
	located(results) == {
		{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[0].model"},
		{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[1].model"},
		{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[2].model"},
	}
}

test_sizing_problems_reported_even_with_unknown_gpu if {
	objects := {
		"Model": {"m": {"spec": {"precision": "bf16"}}},
		"Stack": {"s": {"spec": {"gpu": {"type": "tpu-v5"}, "workloads": [{"model": "m"}]}}},
	}
	results := stk_003.deny with input.objects as objects
	{r.field | some r in results} == {"spec.gpu.type", "spec.workloads[0].model"}
}

test_silent_for_missing_model if {
	objects := {"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-l4"}, "workloads": [{"model": "ghost"}, {}]}}}}
	results := stk_003.deny with input.objects as objects
	count(results) == 0
}

test_gpu_table_from_data if {
	objects := sized(10000000001, "bf16", 1)
	results := stk_003.deny with input.objects as objects with data.govops.gpus as {"nvidia-l4": {"memoryGB": 48, "product": "X"}}
	count(results) == 0
}

test_denies_non_positive_parameters if {
	objects := sized(0, "bf16", 1)
	results := stk_003.deny with input.objects as objects
	located(results) == {{"id": "STK-003", "kind": "Stack", "name": "s", "field": "spec.workloads[0].model"}}
	[r] := [r | some r in results]
	contains(r.msg, "not positive")
}

test_an_unknown_gpu_type_names_the_closest_known_one if {
	objects := {"Stack": {"s": {"spec": {"gpu": {"type": "nvidia-h100", "quota": 8}}}}}
	[r] := [r | some r in stk_003.deny with input.objects as objects]
	r.msg == "Stack s uses GPU type \"nvidia-h100\", which is not in data.govops.gpus (did you mean \"nvidia-h100-80gb\"?), so its workloads cannot be sized."
}

test_an_unknown_gpu_type_like_none_gets_no_suggestion if {
	objects := {"Stack": {"s": {"spec": {"gpu": {"type": "tpu-v5e", "quota": 8}}}}}
	[r] := [r | some r in stk_003.deny with input.objects as objects]
	r.msg == "Stack s uses GPU type \"tpu-v5e\", which is not in data.govops.gpus, so its workloads cannot be sized."
}

test_a_misspelt_precision_names_the_closest_known_one if {
	objects := sized(10000000000, "bf-16", 1)
	[r] := [r | some r in stk_003.deny with input.objects as objects]
	contains(r.msg, "precision \"bf-16\", which is not in data.govops.precisionBits (did you mean \"bf16\"?), so")
}
