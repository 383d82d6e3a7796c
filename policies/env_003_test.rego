package govops.policies.env_003_test

import data.govops.policies.env_003
import rego.v1

located(results) := {object.remove(r, ["msg"]) | some r in results}

locked(packages) := {"serve": {"lockfile": "environments/serve.txt", "packages": packages}}

torch(version, advisories) := {"name": "torch", "version": version, "specifier": concat("", ["==", version]), "hashes": ["sha256:aa"], "advisories": advisories}

test_allows_package_without_advisories if {
	lockfiles := locked([torch("2.6.0", [])])
	results := env_003.deny with input.environments as lockfiles
	count(results) == 0
}

test_allows_package_without_advisories_key if {
	lockfiles := locked([{"name": "torch", "version": "2.6.0"}])
	results := env_003.deny with input.environments as lockfiles
	count(results) == 0
}

test_denies_shipped_advisory_with_summary_and_fix if {
	lockfiles := locked([torch("2.5.1", ["CVE-2025-32434"])])
	results := env_003.deny with input.environments as lockfiles
	located(results) == {{"id": "ENV-003", "kind": "Environment", "name": "serve", "field": "spec.lockfile", "package": "torch", "version": "2.5.1", "advisory": "CVE-2025-32434"}}
	[r] := [r | some r in results]
	r.msg == concat("", [
		"Package torch 2.5.1 in environment serve is affected by CVE-2025-32434 ",
		"(also GHSA-53q9-r3pm-6pq6, PYSEC-2025-41): ",
		data.govops.advisories["CVE-2025-32434"].summary, "; upgrade to 2.6.0 or later.",
	])
}

test_one_result_per_advisory if {
	lockfiles := locked([torch("2.5.1", ["CVE-2025-32434", "LOCAL-1"])])
	results := env_003.deny with input.environments as lockfiles
	count(results) == 2
	{r.package | some r in results} == {"torch"}
	{r.advisory | some r in results} == {"CVE-2025-32434", "LOCAL-1"}
}

test_unknown_advisory_named_without_summary if {
	lockfiles := locked([{"name": "left-pad", "version": "1.0.0", "advisories": ["LOCAL-1"]}])
	results := env_003.deny with input.environments as lockfiles
	[r] := [r | some r in results]
	r.msg == "Package left-pad 1.0.0 in environment serve is affected by LOCAL-1."
}

test_fixed_versions_of_every_range_for_the_package if {
	record := {"id": "X-1", "summary": "bad", "affected": [
		{"package": {"ecosystem": "PyPI", "name": "Foo_Bar"}, "ranges": [{"type": "ECOSYSTEM", "events": [
			{"introduced": "0"}, {"fixed": "1.2.3"}, {"introduced": "2.0"}, {"fixed": "2.0.1"},
		]}]},
		{"package": {"ecosystem": "npm", "name": "foo-bar"}, "ranges": [{"type": "SEMVER", "events": [{"fixed": "9.9.9"}]}]},
	]}
	lockfiles := locked([{"name": "foo-bar", "version": "1.0", "advisories": ["X-1"]}])
	results := env_003.deny with input.environments as lockfiles with data.govops.advisories as {"X-1": record}
	[r] := [r | some r in results]
	r.msg == "Package foo-bar 1.0 in environment serve is affected by X-1: bad; upgrade to 1.2.3 or 2.0.1 or later."
}

test_unpinned_version_is_named_so if {
	lockfiles := locked([{"name": "torch", "version": null, "specifier": ">=2", "advisories": ["LOCAL-1"]}])
	results := env_003.deny with input.environments as lockfiles
	[r] := [r | some r in results]
	r.msg == "Package torch (unpinned) in environment serve is affected by LOCAL-1."
}

# The engine lists where the packages needing a look are (`flagged`); the policy looks there.
test_reads_the_packages_the_engine_flagged if {
	lockfiles := {"serve": object.union(locked([torch("2.6.0", []), torch("2.5.1", ["CVE-2025-32434"])])["serve"], {"flagged": [1]})}
	results := env_003.deny with input.environments as lockfiles
	{[r.version, r.advisory] | some r in results} == {["2.5.1", "CVE-2025-32434"]}
}

# A GIT range's `fixed` is a commit: never upgrade advice (54 of 89 recommendations were hashes).
test_fixed_versions_come_only_from_versioned_ranges if {
	record := {"id": "PYSEC-2022-43015", "summary": "eval in parse_type_line", "affected": [
		{"package": {"ecosystem": "PyPI", "name": "torch"}, "ranges": [
			{"type": "GIT", "repo": "https://github.com/pytorch/pytorch", "events": [{"introduced": "0"}, {"fixed": "767f6aa49fe20a2766b9843d01e3b7f7793df6a3"}]},
			{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.13.1"}]},
		]},
	]}
	lockfiles := locked([torch("1.13.0", ["PYSEC-2022-43015"])])
	results := env_003.deny with input.environments as lockfiles with data.govops.advisories as {"PYSEC-2022-43015": record}
	[r] := [r | some r in results]
	r.msg == "Package torch 1.13.0 in environment serve is affected by PYSEC-2022-43015: eval in parse_type_line; upgrade to 1.13.1 or later."
}

test_a_git_range_alone_gives_no_upgrade_advice if {
	record := {"id": "G-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"}, "ranges": [
		{"type": "GIT", "repo": "https://github.com/pytorch/pytorch", "events": [{"introduced": "0"}, {"fixed": "767f6aa49fe20a2766b9843d01e3b7f7793df6a3"}]},
	]}]}
	lockfiles := locked([torch("1.13.0", ["G-1"])])
	results := env_003.deny with input.environments as lockfiles with data.govops.advisories as {"G-1": record}
	[r] := [r | some r in results]
	r.msg == "Package torch 1.13.0 in environment serve is affected by G-1."
}

# A conda build of a PyPI project is matched by the project's advisories (the engine maps the
# name): the message says so, and the advice reads the PyPI project's fixed versions.
test_a_conda_package_matched_as_its_pypi_project if {
	pytorch := {"name": "pytorch", "version": "2.5.1", "ecosystem": "conda", "pypi": "torch", "hashes": ["md5:aa"], "advisories": ["CVE-2025-32434"]}
	results := env_003.deny with input.environments as locked([pytorch])
	[r] := [r | some r in results]
	r.package == "pytorch"
	startswith(r.msg, "Package pytorch 2.5.1 (conda; PyPI torch) in environment serve is affected by CVE-2025-32434 (also GHSA-53q9-r3pm-6pq6, PYSEC-2025-41): ")
	endswith(r.msg, "; upgrade to 2.6.0 or later.")
}
