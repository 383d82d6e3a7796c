package govops.policies.mdl_001_test

import data.govops.policies.mdl_001
import rego.v1

sha := "5f0b02c75b57c5855da9ae460ce51323ea669d8a"

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# Results without their message: exactly the keys and values the policy reports.
located(results) := {object.remove(r, ["msg"]) | some r in results}

models(spec) := {"Model": {"m": {"metadata": {"name": "m"}, "spec": spec}}}

test_allows_commit_sha_and_digest if {
	objects := models({"revision": sha, "digest": digest})
	results := mdl_001.deny with input.objects as objects
	count(results) == 0
}

test_denies_branch_revision if {
	objects := models({"revision": "main", "digest": digest})
	results := mdl_001.deny with input.objects as objects
	located(results) == {{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.revision"}}
	some r in results
	contains(r.msg, "\"main\"")
}

test_denies_short_and_uppercase_shas if {
	objects := {"Model": {
		"short": {"spec": {"revision": "5f0b02c", "digest": digest}},
		"upper": {"spec": {"revision": upper(sha), "digest": digest}},
	}}
	results := mdl_001.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-001", "kind": "Model", "name": "short", "field": "spec.revision"},
		{"id": "MDL-001", "kind": "Model", "name": "upper", "field": "spec.revision"},
	}
}

test_denies_missing_revision_and_digest_separately if {
	objects := models({"source": "hf://org/model"})
	results := mdl_001.deny with input.objects as objects
	located(results) == {
		{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.revision"},
		{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.digest"},
	}
}

test_denies_digest_without_prefix_or_wrong_length if {
	objects := {"Model": {
		"bare": {"spec": {"revision": sha, "digest": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		"short": {"spec": {"revision": sha, "digest": "sha256:0123"}},
		"md5": {"spec": {"revision": sha, "digest": "md5:0123456789abcdef0123456789abcdef"}},
	}}
	results := mdl_001.deny with input.objects as objects
	{r.name | some r in results; r.field == "spec.digest"} == {"bare", "short", "md5"}
	count(results) == 3
}

test_denies_non_string_revision if {
	objects := models({"revision": 1234, "digest": digest})
	results := mdl_001.deny with input.objects as objects
	located(results) == {{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.revision"}}
}

test_no_models_no_results if {
	results := mdl_001.deny with input.objects as {}
	count(results) == 0
}

test_digest_only_sources_need_no_revision if {
	objects := {"Model": {
		"s3": {"spec": {"source": "s3://acme-models/bge/", "digest": digest}},
		"oci": {"spec": {"source": "oci://ghcr.io/acme/models/bge", "digest": digest}},
		"local": {"spec": {"source": "/mnt/models/bge", "digest": digest}},
	}}
	results := mdl_001.deny with input.objects as objects
	count(results) == 0
}

test_digest_only_sources_still_need_a_digest if {
	objects := models({"source": "s3://acme-models/bge/"})
	results := mdl_001.deny with input.objects as objects
	located(results) == {{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.digest"}}
}

test_hub_sources_still_need_a_commit if {
	objects := models({"source": "hf://acme/bge", "digest": digest})
	results := mdl_001.deny with input.objects as objects
	located(results) == {{"id": "MDL-001", "kind": "Model", "name": "m", "field": "spec.revision"}}
}
