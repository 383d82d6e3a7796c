package govops.policies.env_002_test

import data.govops.policies.env_002
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

environments(image) := {"Environment": {"e": {"spec": {"image": image}}}}

test_allows_digest_reference if {
	objects := environments(concat("", ["ghcr.io/acme/vllm@sha256:", hex]))
	results := env_002.deny with input.objects as objects
	count(results) == 0
}

test_allows_tag_plus_digest if {
	objects := environments(concat("", ["ghcr.io/acme/vllm:0.7.3@sha256:", hex]))
	results := env_002.deny with input.objects as objects
	count(results) == 0
}

test_denies_tag if {
	objects := environments("ghcr.io/acme/vllm:0.7.3")
	results := env_002.deny with input.objects as objects
	located(results) == {{"id": "ENV-002", "kind": "Environment", "name": "e", "field": "spec.image"}}
}

test_denies_malformed_digests if {
	objects := {"Environment": {
		"short": {"spec": {"image": "ghcr.io/acme/vllm@sha256:0123"}},
		"upper": {"spec": {"image": concat("", ["ghcr.io/acme/vllm@sha256:", upper(hex)])}},
		"bare": {"spec": {"image": concat("", ["sha256:", hex])}},
		"sha512": {"spec": {"image": concat("", ["ghcr.io/acme/vllm@sha512:", hex, hex])}},
	}}
	results := env_002.deny with input.objects as objects
	{r.name | some r in results} == {"short", "upper", "bare", "sha512"}
	{r.field | some r in results} == {"spec.image"}
}

test_denies_missing_image if {
	results := env_002.deny with input.objects as {"Environment": {"e": {"spec": {}}}}
	located(results) == {{"id": "ENV-002", "kind": "Environment", "name": "e", "field": "spec.image"}}
}
