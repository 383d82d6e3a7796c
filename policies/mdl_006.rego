# METADATA
# title: Signed model weights verify, and production serves only signed weights where required
# description: >-
#   A digest in YAML says which weights were meant; an OpenSSF model signature (OMS, the
#   model-signing library) says who vouched for them, file by file. A signature that does not
#   verify (a changed file, another signer) means the weights are not the ones vouched for.
#   govops.yaml can require every model a production stack serves to carry one
#   (policies.data.requireModelSignatures: true).
# custom:
#   id: MDL-006
#   severity: deny
#   remediation: >-
#     Sign the weights with model-signing (`model_signing sign key|sigstore`), commit the bundle,
#     and name it and the signer in spec.signature (bundle, and key or identity). Give govops the
#     weights to check in GOVOPS_MODEL_FILES/<model name>/. A file that differs from the signed
#     manifest means the weights changed after signing: sign again or restore them.
package govops.policies.mdl_006

import data.govops.lib.catalog
import data.govops.lib.stacks
import rego.v1

# Checked and failed: always a deny, required or not.
deny contains result if {
	some name, facts in catalog.model_signatures
	facts.checked == true
	facts.verified != true
	result := {
		"id": "MDL-006",
		"msg": concat("", ["Model ", name, "'s signature by ", facts.signer, " does not verify: ", facts.problem, "."]),
		"kind": "Model",
		"name": name,
		"field": "spec.signature",
	}
}

# Not checked (the weights could not be reached): a deny where production requires signed
# weights, else a warning that the signature was not verified here.
deny contains result if {
	required
	some use in stacks.production_model_uses
	facts := catalog.model_signatures[use.model]
	facts.checked != true
	result := unchecked(use.model, facts, concat("", [", and production stack ", use.stack, " serves it"]))
}

warn contains result if {
	some name, facts in catalog.model_signatures
	facts.checked != true
	not required_for(name)
	result := unchecked(name, facts, "")
}

deny contains result if {
	required
	some use in stacks.production_model_uses
	not catalog.models[use.model].spec.signature
	result := {
		"id": "MDL-006",
		"msg": concat("", [
			"Model ", use.model, ", which production stack ", use.stack,
			" serves, has no spec.signature: govops.yaml requires signed weights in production (policies.data.requireModelSignatures).",
		]),
		"kind": "Model",
		"name": use.model,
		"field": "spec",
	}
}

required if data.govops.config.requireModelSignatures == true

required_for(name) if {
	required
	some use in stacks.production_model_uses
	use.model == name
}

unchecked(name, facts, context) := {
	"id": "MDL-006",
	"msg": concat("", ["Model ", name, "'s signature by ", facts.signer, " was not verified", context, ": ", facts.problem, "."]),
	"kind": "Model",
	"name": name,
	"field": "spec.signature",
}
