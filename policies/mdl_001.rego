# METADATA
# title: Models pin an immutable revision and a sha256 digest
# description: >-
#   A branch or tag name can move after review, so what was approved is not what gets deployed.
#   A 40-hex commit sha fixes the source, and a sha256 digest lets the deployment check the
#   weights it actually pulls. Sources without commits (s3://, gs://, az://, oci://, http(s)://,
#   file:// and paths) are pinned by the digest alone; a revision is not asked of them.
# custom:
#   id: MDL-001
#   severity: deny
#   remediation: >-
#     Set spec.revision to the full 40-character commit sha of the source (e.g. the Hugging Face
#     commit) and spec.digest to sha256: followed by the 64 lowercase hex digits of the weights.
package govops.policies.mdl_001

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

deny contains result if {
	some name, model in catalog.models
	not digest_only(object.get(model, ["spec", "source"], ""))
	revision := object.get(model, ["spec", "revision"], null)
	not commit_sha(revision)
	result := {
		"id": "MDL-001",
		"msg": concat("", ["Model ", name, " ", revision_problem(revision), ": pin the 40-hex commit sha of its source."]),
		"kind": "Model",
		"name": name,
		"field": "spec.revision",
	}
}

deny contains result if {
	some name, model in catalog.models
	digest := object.get(model, ["spec", "digest"], null)
	not sha256_digest(digest)
	result := {
		"id": "MDL-001",
		"msg": concat("", ["Model ", name, " ", digest_problem(digest), ": set sha256: and the 64 lowercase hex digits of its weights."]),
		"kind": "Model",
		"name": name,
		"field": "spec.digest",
	}
}

# Object stores, registries, URLs and paths have no commits: the digest is the pin.
digest_only(source) if {
	is_string(source)
	some prefix in ["s3://", "gs://", "az://", "oci://", "https://", "http://", "file://", "/", "./", "../"]
	startswith(source, prefix)
}

# Lowercase only: git prints shas in lowercase, and the hubs resolve revisions as written.
commit_sha(revision) if {
	is_string(revision)
	regex.match(`^[0-9a-f]{40}$`, revision)
}

sha256_digest(digest) if {
	is_string(digest)
	regex.match(`^sha256:[0-9a-f]{64}$`, digest)
}

revision_problem(revision) := "sets no spec.revision" if {
	revision == null
} else := concat("", ["pins revision ", messages.quote(revision), ", which is not a commit sha and can move"])

digest_problem(digest) := "sets no spec.digest" if {
	digest == null
} else := concat("", ["has digest ", messages.quote(digest), ", which is not a sha256 digest"])
