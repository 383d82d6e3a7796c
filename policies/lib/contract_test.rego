# Every shipped policy against one governed repo that breaks all of them: the results keep to
# the contract in docs/policies.md whatever the policy.
package govops.lib.contract_test

import rego.v1

hex64 := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

objects := {
	"Model": {"m": {
		"metadata": {"name": "m"},
		"spec": {"revision": "main", "format": "pt", "license": "llama3", "datasets": ["d", "ghost"], "risk": "high", "parameters": 80000000000, "precision": "fp32"},
	}},
	"Dataset": {"d": {"spec": {"pii": true}}},
	"Environment": {"e": {"spec": {"image": "ghcr.io/acme/serve:1", "lockfile": "e.txt"}}, "bare": {"spec": {}}},
	"Stack": {"s": {
		"metadata": {"labels": {"tier": "production"}},
		"spec": {"gpu": {"type": "nvidia-l4", "quota": 1}, "workloads": [
			{"name": "chat", "kind": "inference", "model": "m", "environment": "e", "gpusPerReplica": 1},
			{"name": "gone", "model": "deleted-model", "environment": "e"},
		]},
	}},
	"Waiver": {"w": {"spec": {"policy": "MDL-002", "target": {"kind": "Model", "name": "m"}}}},
}

environments := {"e": {"lockfile": "e.txt", "format": "requirements", "packages": [
	{"name": "torch", "version": "2.5.1", "specifier": "==2.5.1", "hashes": [], "advisories": ["CVE-2025-32434"]},
]}}

changes := [{"path": "models/deleted-model.yaml", "kind": "Model", "name": "deleted-model", "change": "deleted", "before": {}, "after": null}]

waivers := {"w": {"expiresDay": 20600, "approval": {"approved": false, "approvedBy": [], "needed": 1, "approvedAt": null, "approvedDay": null, "refused": [], "trustRoot": "sha256:00", "problem": null}}}

all_ids := {
	"MDL-001", "MDL-002", "MDL-003", "MDL-004", "MDL-005", "DAT-001", "ENV-001", "ENV-002", "ENV-003",
	"STK-001", "STK-002", "STK-003", "STK-004", "CHG-001", "WVR-001",
}

# Policy packages only: test packages sit beside them under data.govops.policies.
policy_packages := {lower(replace(id, "-", "_")) | some id in all_ids}

# Each result with the package that produced it.
results contains {"package": package_name, "result": result} if {
	some package_name in policy_packages
	some result in data.govops.policies[package_name].deny
}

evaluated := found if {
	o := objects
	e := environments
	c := changes
	w := waivers
	found := results with input.objects as o with input.environments as e with input.changes as c with input.waivers as w with input.today as 20781
}

test_every_policy_denies_the_broken_repo if {
	{entry.result.id | some entry in evaluated} == all_ids
}

test_results_have_exactly_the_contract_keys if {
	count(evaluated) > 0
	every entry in evaluated {
		allowed_keys(entry.result)
	}
}

test_lock_file_results_name_the_package if {
	{entry.result.id | some entry in evaluated; entry.result["package"]} == {"ENV-001", "ENV-003"}
}

test_ids_match_their_package if {
	every entry in evaluated {
		entry.result.id == upper(replace(entry["package"], "_", "-"))
	}
}

test_messages_are_sentences if {
	every entry in evaluated {
		is_string(entry.result.msg)
		endswith(entry.result.msg, ".")
		not contains(entry.result.msg, "\"\"")
	}
}

allowed_keys(result) if {
	object.keys(result) == {"id", "msg", "kind", "name", "field"}
}

allowed_keys(result) if {
	object.keys(result) == {"id", "msg", "kind", "name", "field", "package", "version"}
	result.id == "ENV-001"
}

allowed_keys(result) if {
	object.keys(result) == {"id", "msg", "kind", "name", "field", "package", "version", "advisory"}
	result.id == "ENV-003"
}
