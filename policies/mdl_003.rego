# METADATA
# title: Models name only datasets and base models that exist (training data, evaluation sets, lineage)
# description: >-
#   The AIBOM and the PII checks follow a model to its datasets; a name with no Dataset object
#   behind it hides where the model's data came from.
# custom:
#   id: MDL-003
#   severity: deny
#   remediation: >-
#     Add a Dataset (or, for spec.baseModel, a Model) object with that name, or correct the name
#     in spec.datasets, spec.evaluations[].dataset or spec.baseModel.
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
		"msg": concat("", ["Model ", name, " names dataset ", messages.quote(dataset), ", which has no Dataset object", dataset_hint(dataset), "."]),
		"kind": "Model",
		"name": name,
		"field": concat("", ["spec.datasets[", messages.str(i), "]"]),
	}
}

# An evaluation's dataset is resolved like spec.datasets: a score on a set nobody can find
# proves nothing.
deny contains result if {
	some name, model in catalog.models
	some i, evaluation in catalog.list_at(model, ["spec", "evaluations"])
	dataset := object.get(evaluation, "dataset", null)
	is_string(dataset)
	not catalog.datasets[dataset]
	result := {
		"id": "MDL-003",
		"msg": concat("", ["Model ", name, " reports its evaluation ", messages.quote(object.get(evaluation, "metric", "")), " on dataset ", messages.quote(dataset), ", which has no Dataset object", dataset_hint(dataset), "."]),
		"kind": "Model",
		"name": name,
		"field": concat("", ["spec.evaluations[", messages.str(i), "].dataset"]),
	}
}

# A fine-tune's base model is a Model of the repository: its licence, digest and datasets are
# governed too, and the AIBOM records the lineage (pedigree).
deny contains result if {
	some name, model in catalog.models
	base := object.get(model, ["spec", "baseModel"], null)
	is_string(base)
	not lineage_ok(name, base)
	result := {
		"id": "MDL-003",
		"msg": concat("", ["Model ", name, " names base model ", messages.quote(base), base_problem(name, base)]),
		"kind": "Model",
		"name": name,
		"field": "spec.baseModel",
	}
}

lineage_ok(name, base) if {
	base != name
	catalog.models[base]
}

base_problem(name, base) := ", which is itself" if {
	base == name
} else := concat("", [
	", which has no Model object",
	messages.did_you_mean(base, object.keys(object.remove(catalog.models, [name]))), ".",
])

dataset_hint(dataset) := messages.did_you_mean(dataset, object.keys(catalog.datasets))
