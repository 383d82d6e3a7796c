# METADATA
# title: Datasets declare a license and PII; production use of PII is waived explicitly
# description: >-
#   A dataset's license and whether it holds personal data decide where models trained on it may
#   run. A model trained on personal data may serve production only with a recorded, approved
#   exception.
# custom:
#   id: DAT-001
#   severity: deny
#   remediation: >-
#     Set spec.license to the dataset's SPDX id and spec.pii to true or false. For a PII dataset
#     behind a production model, add a Waiver for DAT-001 targeting the Dataset, with the privacy
#     review as its reason.
package govops.policies.dat_001

import data.govops.lib.catalog
import data.govops.lib.stacks
import rego.v1

deny contains result if {
	some name, dataset in catalog.datasets
	not catalog.text_at(dataset, ["spec", "license"])
	result := {
		"id": "DAT-001",
		"msg": concat("", ["Dataset ", name, " declares no spec.license: set its SPDX id."]),
		"kind": "Dataset",
		"name": name,
		"field": "spec.license",
	}
}

deny contains result if {
	some name, dataset in catalog.datasets
	not is_boolean(object.get(dataset, ["spec", "pii"], null))
	result := {
		"id": "DAT-001",
		"msg": concat("", ["Dataset ", name, " does not declare spec.pii as true or false: say whether it holds personal data."]),
		"kind": "Dataset",
		"name": name,
		"field": "spec.pii",
	}
}

# One result per production stack and model, so the message names the exact path to production;
# a waiver targets the Dataset and so covers all of them.
deny contains result if {
	some use in stacks.production_model_uses
	some name in catalog.list_at(catalog.models[use.model], ["spec", "datasets"])
	object.get(catalog.datasets, [name, "spec", "pii"], false) == true
	result := {
		"id": "DAT-001",
		"msg": concat("", [
			"Dataset ", name, " holds personal data (pii: true) and trains model ", use.model,
			", which production stack ", use.stack, " serves: this needs an approved Waiver for DAT-001.",
		]),
		"kind": "Dataset",
		"name": name,
		"field": "spec.pii",
	}
}
