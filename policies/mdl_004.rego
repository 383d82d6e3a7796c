# METADATA
# title: High-risk models are evaluated and owned
# description: >-
#   A high-risk model (EU AI Act sense) must show evidence of how it performs and name the people
#   accountable for it before it ships.
# custom:
#   id: MDL-004
#   severity: deny
#   remediation: >-
#     Add at least one entry to spec.evaluations (metric, value, dataset) and at least one owner
#     to metadata.owners.
package govops.policies.mdl_004

import data.govops.lib.catalog
import rego.v1

high_risk_models[name] := model if {
	some name, model in catalog.models
	object.get(model, ["spec", "risk"], "") == "high"
}

deny contains result if {
	some name, model in high_risk_models
	count(catalog.list_at(model, ["spec", "evaluations"])) == 0
	result := {
		"id": "MDL-004",
		"msg": concat("", ["Model ", name, " is high-risk but lists no spec.evaluations: record at least one evaluation."]),
		"kind": "Model",
		"name": name,
		"field": "spec.evaluations",
	}
}

deny contains result if {
	some name, model in high_risk_models
	count(catalog.list_at(model, ["metadata", "owners"])) == 0
	result := {
		"id": "MDL-004",
		"msg": concat("", ["Model ", name, " is high-risk but lists no metadata.owners: name at least one owner."]),
		"kind": "Model",
		"name": name,
		"field": "metadata.owners",
	}
}
