package govops.policies.mdl_005_test

import data.govops.policies.mdl_005
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

test_allows_safe_formats if {
	objects := {"Model": {
		"a": {"spec": {"format": "safetensors"}},
		"b": {"spec": {"format": "gguf"}},
		"c": {"spec": {"format": "onnx"}},
		"d": {"spec": {}},
	}}
	results := mdl_005.deny with input.objects as objects
	count(results) == 0
}

test_denies_every_pickle_format if {
	objects := {"Model": {
		"pickle": {"spec": {"format": "pickle"}},
		"pt": {"spec": {"format": "pt"}},
		"pth": {"spec": {"format": "pth"}},
		"bin": {"spec": {"format": "bin"}},
		"ckpt": {"spec": {"format": "ckpt"}},
	}}
	results := mdl_005.deny with input.objects as objects
	{r.name | some r in results} == {"pickle", "pt", "pth", "bin", "ckpt"}
	{r.field | some r in results} == {"spec.format"}
}

test_denies_regardless_of_case if {
	results := mdl_005.deny with input.objects as {"Model": {"m": {"spec": {"format": "PT"}}}}
	located(results) == {{"id": "MDL-005", "kind": "Model", "name": "m", "field": "spec.format"}}
	some r in results
	contains(r.msg, "\"PT\"")
}

test_matches_whole_format_names_only if {
	results := mdl_005.deny with input.objects as {"Model": {"m": {"spec": {"format": "binary-safetensors"}}}}
	count(results) == 0
}
