package govops.lib.stacks_test

import data.govops.lib.stacks
import rego.v1

test_workload_defaults if {
	stacks.replicas({}) == 1
	stacks.gpus_per_replica({}) == 1
	stacks.replicas({"replicas": 0}) == 0
	stacks.gpus_per_replica({"gpusPerReplica": 8}) == 8
}

test_workload_field_and_label if {
	stacks.workload_field(3, "model") == "spec.workloads[3].model"
	stacks.workload_label(0, {"name": "chat"}) == "chat"
	stacks.workload_label(2, {}) == "#2"
	stacks.workload_label(2, {"name": ""}) == "#2"
}

test_production_label if {
	stacks.production({"metadata": {"labels": {"tier": "production"}}})
	not stacks.production({"metadata": {"labels": {"tier": "staging"}}})
	not stacks.production({"metadata": {}})
}

test_production_model_uses_only_existing_models_in_production if {
	objects := {
		"Model": {"m": {}, "n": {}},
		"Stack": {
			"prod": {"metadata": {"labels": {"tier": "production"}}, "spec": {"workloads": [{"model": "m"}, {"model": "ghost"}, {"model": "m"}]}},
			"dev": {"spec": {"workloads": [{"model": "n"}]}},
		},
	}
	uses := stacks.production_model_uses with input.objects as objects
	uses == {{"stack": "prod", "model": "m"}}
}
