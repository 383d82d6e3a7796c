# METADATA
# title: Models carry an allowed license
# description: >-
#   Serving or fine-tuning a model binds the organisation to its license; only licenses that
#   legal has cleared (data.govops.config.allowedLicenses) may ship without a review.
# custom:
#   id: MDL-002
#   severity: deny
#   remediation: >-
#     Set spec.license to the model's SPDX id. If that license is not allowed, get it reviewed and
#     add it to policies.data.allowedLicenses in govops.yaml, or add a Waiver for MDL-002.
package govops.policies.mdl_002

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

# govops.yaml replaces the shipped default list; no list at all allows nothing.
allowed_licenses := licenses if {
	licenses := data.govops.config.allowedLicenses
} else := []

deny contains result if {
	some name, model in catalog.models
	not catalog.text_at(model, ["spec", "license"])
	result := {
		"id": "MDL-002",
		"msg": concat("", ["Model ", name, " declares no spec.license: set its SPDX id."]),
		"kind": "Model",
		"name": name,
		"field": "spec.license",
	}
}

deny contains result if {
	some name, model in catalog.models
	license := catalog.text_at(model, ["spec", "license"])
	not license in allowed_licenses
	result := {
		"id": "MDL-002",
		"msg": concat("", [
			"Model ", name, " is licensed ", messages.quote(license),
			", which is not one of the allowed licenses (", messages.join(allowed_licenses), ").",
		]),
		"kind": "Model",
		"name": name,
		"field": "spec.license",
	}
}
