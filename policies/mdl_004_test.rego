package govops.policies.mdl_004_test

import data.govops.policies.mdl_004
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

evaluation := {"metric": "mmlu", "value": 66, "dataset": "mmlu"}

test_allows_high_risk_with_evaluation_and_owner if {
	objects := {"Model": {"m": {
		"metadata": {"name": "m", "owners": ["ml@acme.test"]},
		"spec": {"risk": "high", "evaluations": [evaluation]},
	}}}
	results := mdl_004.deny with input.objects as objects
	count(results) == 0
}

test_allows_limited_risk_without_either if {
	objects := {"Model": {"m": {"metadata": {"name": "m"}, "spec": {"risk": "limited"}}}}
	results := mdl_004.deny with input.objects as objects
	count(results) == 0
}

test_denies_high_risk_missing_both if {
	objects := {"Model": {"m": {"metadata": {"name": "m"}, "spec": {"risk": "high"}}}}
	results := mdl_004.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-004", "kind": "Model", "name": "m", "field": "spec.evaluations"},
		{"id": "MDL-004", "kind": "Model", "name": "m", "field": "metadata.owners"},
	}
}

test_denies_empty_lists if {
	objects := {"Model": {"m": {"metadata": {"name": "m", "owners": ["ml@acme.test"]}, "spec": {"risk": "high", "evaluations": []}}}}
	results := mdl_004.deny with input.objects as objects
	located(results) == {{"id": "MDL-004", "kind": "Model", "name": "m", "field": "spec.evaluations"}}
}

test_denies_empty_owners if {
	objects := {"Model": {"m": {"metadata": {"name": "m", "owners": []}, "spec": {"risk": "high", "evaluations": [evaluation]}}}}
	results := mdl_004.deny with input.objects as objects
	located(results) == {{"id": "MDL-004", "kind": "Model", "name": "m", "field": "metadata.owners"}}
}
