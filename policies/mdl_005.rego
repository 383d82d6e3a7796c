# METADATA
# title: Model weights are not pickled
# description: >-
#   Loading pickle-based weights (pickle, PyTorch .pt/.pth/.bin, .ckpt) runs arbitrary code from
#   the file, even with torch.load(weights_only=True) before torch 2.6.0.
# custom:
#   id: MDL-005
#   severity: deny
#   remediation: >-
#     Convert the weights to safetensors (or gguf/onnx) and point spec.source, spec.digest and
#     spec.format at the converted files.
package govops.policies.mdl_005

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

pickle_formats := {"pickle", "pt", "pth", "bin", "ckpt"}

deny contains result if {
	some name, model in catalog.models
	format := object.get(model, ["spec", "format"], "")
	is_string(format)
	lower(format) in pickle_formats
	result := {
		"id": "MDL-005",
		"msg": concat("", [
			"Model ", name, " ships weights in the pickle-based format ", messages.quote(format),
			", and loading them runs code: convert them to safetensors.",
		]),
		"kind": "Model",
		"name": name,
		"field": "spec.format",
	}
}
