# METADATA
# title: Models name only datasets that exist
# description: >-
#   The AIBOM and the PII checks follow a model to its datasets; a name with no Dataset object
#   behind it hides where the model's data came from.
# custom:
#   id: MDL-003
#   severity: deny
#   remediation: Add a Dataset object with that name, or correct the name in spec.datasets.
package govops.policies.mdl_003

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

deny contains result if {
	some name, model in catalog.models
	some i, dataset in catalog.list_at(model, ["spec", "datasets"])
	not catalog.datasets[dataset]
	result := {
		"id": "MDL-003",
		"msg": concat("", ["Model ", name, " names dataset ", messages.quote(dataset), ", which has no Dataset object."]),
		"kind": "Model",
		"name": name,
		"field": concat("", ["spec.datasets[", messages.str(i), "]"]),
	}
}
