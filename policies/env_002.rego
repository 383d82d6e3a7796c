# METADATA
# title: Container images are referenced by digest
# description: >-
#   A tag can be re-pushed to point at different bits; only an @sha256 digest names the exact
#   image that was reviewed and scanned.
# custom:
#   id: ENV-002
#   severity: deny
#   remediation: >-
#     Reference the image as registry/repository@sha256:<64 hex> (keep the tag before the @ if
#     you like: name:tag@sha256:...); `crane digest` or `docker buildx imagetools inspect` print it.
package govops.policies.env_002

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

deny contains result if {
	some name, environment in catalog.environments
	image := object.get(environment, ["spec", "image"], null)
	not digest_reference(image)
	result := {
		"id": "ENV-002",
		"msg": concat("", ["Environment ", name, " ", image_problem(image), ": reference it by @sha256 digest."]),
		"kind": "Environment",
		"name": name,
		"field": "spec.image",
	}
}

# OCI digests are lowercase hex; a repository name must precede the digest.
digest_reference(image) if {
	is_string(image)
	regex.match(`^[^@\s]+@sha256:[0-9a-f]{64}$`, image)
}

image_problem(image) := "declares no spec.image" if {
	image == null
} else := concat("", ["uses image ", messages.quote(image), ", which is not pinned by digest"])
