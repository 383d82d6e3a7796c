package govops.policies.mdl_006_test

import data.govops.policies.mdl_006
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

signed := {"spec": {"signature": {"bundle": "signatures/m.sig", "key": "keys/p.pub"}}}

production := {"Stack": {"s": {"metadata": {"labels": {"tier": "production"}}, "spec": {"workloads": [{"name": "w", "model": "m"}]}}}}

verified := {"m": {"verified": true, "checked": true, "signer": "key keys/p.pub", "problem": null}}

test_allows_a_verified_signature if {
	objects := object.union(production, {"Model": {"m": signed}})
	facts := verified # bound first: rego-cpp leaves `with ... as <rule>` undefined
	results := mdl_006.deny with input.objects as objects with input.modelSignatures as facts with data.govops.config.requireModelSignatures as true
	count(results) == 0
	count(mdl_006.warn) == 0 with input.objects as objects with input.modelSignatures as facts
}

test_allows_unsigned_models_when_nothing_requires_signatures if {
	objects := object.union(production, {"Model": {"m": {"spec": {}}}})
	count(mdl_006.deny) == 0 with input.objects as objects
}

test_denies_a_signature_that_does_not_verify if {
	facts := {"m": {"verified": false, "checked": true, "signer": "key keys/p.pub", "problem": "model.safetensors differs from the signed manifest"}}
	results := mdl_006.deny with input.objects as {"Model": {"m": signed}} with input.modelSignatures as facts
	located(results) == {{"id": "MDL-006", "kind": "Model", "name": "m", "field": "spec.signature"}}
	[r] := [r | some r in results]
	r.msg == "Model m's signature by key keys/p.pub does not verify: model.safetensors differs from the signed manifest."
}

test_denies_an_unsigned_production_model_when_required if {
	objects := object.union(production, {"Model": {"m": {"spec": {}}}})
	results := mdl_006.deny with input.objects as objects with data.govops.config.requireModelSignatures as true
	located(results) == {{"id": "MDL-006", "kind": "Model", "name": "m", "field": "spec"}}
}

unreached := {"m": {"verified": false, "checked": false, "signer": "key keys/p.pub", "problem": "its weights could not be reached"}}

test_denies_unverified_weights_in_production_when_required if {
	objects := object.union(production, {"Model": {"m": signed}})
	facts := unreached
	results := mdl_006.deny with input.objects as objects with input.modelSignatures as facts with data.govops.config.requireModelSignatures as true
	[r] := [r | some r in results]
	r.msg == "Model m's signature by key keys/p.pub was not verified, and production stack s serves it: its weights could not be reached."
}

test_warns_when_a_signature_could_not_be_checked if {
	objects := object.union(production, {"Model": {"m": signed}})
	facts := unreached
	count(mdl_006.deny) == 0 with input.objects as objects with input.modelSignatures as facts
	warnings := mdl_006.warn with input.objects as objects with input.modelSignatures as facts
	located(warnings) == {{"id": "MDL-006", "kind": "Model", "name": "m", "field": "spec.signature"}}
}
