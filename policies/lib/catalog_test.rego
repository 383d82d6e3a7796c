package govops.lib.catalog_test

import data.govops.lib.catalog
import rego.v1

test_absent_kinds_are_empty if {
	objects := {"Model": {"m": {}}}
	models := catalog.models with input.objects as objects
	stacks := catalog.stacks with input.objects as objects
	models == {"m": {}}
	stacks == {}
}

test_absent_input_parts_have_defaults if {
	count(catalog.models) == 0
	count(catalog.lockfiles) == 0
	catalog.changes == []
	catalog.waiver_facts == {}
}

test_list_at_defaults_to_empty if {
	catalog.list_at({"spec": {"datasets": ["a"]}}, ["spec", "datasets"]) == ["a"]
	catalog.list_at({"spec": {}}, ["spec", "datasets"]) == []
	catalog.list_at({}, ["spec", "datasets"]) == []
	catalog.list_at({"spec": {"datasets": "a"}}, ["spec", "datasets"]) == []
	catalog.list_at({"spec": {"datasets": null}}, ["spec", "datasets"]) == []
}

test_text_at_requires_non_blank_string if {
	catalog.text_at({"spec": {"license": "MIT"}}, ["spec", "license"]) == "MIT"
	not catalog.text_at({"spec": {"license": " "}}, ["spec", "license"])
	not catalog.text_at({"spec": {"license": 3}}, ["spec", "license"])
	not catalog.text_at({"spec": {}}, ["spec", "license"])
}
