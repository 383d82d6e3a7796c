package govops.policies.env_001_test

import data.govops.policies.env_001
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

environments := {"Environment": {"serve": {"spec": {"lockfile": "environments/serve.txt"}}}}

locked(packages) := {"serve": {"lockfile": "environments/serve.txt", "format": "requirements", "packages": packages}}

pinned := {"name": "torch", "version": "2.6.0", "specifier": "==2.6.0", "hashes": ["sha256:aa"], "advisories": []}

test_allows_pinned_hashed_packages if {
	objects := environments
	lockfiles := locked([pinned])
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	count(results) == 0
}

test_allows_empty_lock_file if {
	objects := environments
	lockfiles := locked([])
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	count(results) == 0
}

test_denies_unpinned_package if {
	objects := environments
	lockfiles := locked([{"name": "numpy", "version": null, "specifier": ">=1.26", "hashes": ["sha256:bb"]}])
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	located(results) == {{"id": "ENV-001", "kind": "Environment", "name": "serve", "field": "spec.lockfile", "package": "numpy", "version": null}}
	some r in results
	contains(r.msg, "\">=1.26\"")
}

test_denies_unhashed_package if {
	objects := environments
	lockfiles := locked([pinned, {"name": "numpy", "version": "2.1.0", "specifier": "==2.1.0", "hashes": []}])
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	located(results) == {{"id": "ENV-001", "kind": "Environment", "name": "serve", "field": "spec.lockfile", "package": "numpy", "version": "2.1.0"}}
}

test_one_result_names_both_problems if {
	objects := environments
	lockfiles := locked([{"name": "numpy", "version": null, "specifier": ""}])
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	count(results) == 1
	some r in results
	contains(r.msg, "not pinned")
	contains(r.msg, "no hash")
}

test_denies_environment_without_lockfile if {
	objects := {"Environment": {"bare": {"spec": {"image": "x"}}}}
	results := env_001.deny with input.objects as objects
	located(results) == {{"id": "ENV-001", "kind": "Environment", "name": "bare", "field": "spec"}}
}

# The engine lists where the packages needing a look are (`flagged`); the policy looks there.
test_reads_the_packages_the_engine_flagged if {
	objects := environments
	unhashed := {"name": "numpy", "version": "2.1.0", "specifier": "==2.1.0", "hashes": []}
	lockfiles := {"serve": object.union(locked([pinned, unhashed])["serve"], {"flagged": [1]})}
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	located(results) == {{"id": "ENV-001", "kind": "Environment", "name": "serve", "field": "spec.lockfile", "package": "numpy", "version": "2.1.0"}}
}

test_a_flagged_sound_package_is_still_allowed if {
	objects := environments
	lockfiles := {"serve": object.union(locked([pinned])["serve"], {"flagged": [0, 7]})}
	results := env_001.deny with input.objects as objects with input.environments as lockfiles
	count(results) == 0
}
