# METADATA
# title: Lock files contain no package version with a known advisory
# description: >-
#   Shipped advisories (OSV records under policies/advisories/) cover flaws that matter for AI
#   serving, such as code execution when loading model files. The engine matches each locked
#   version against their ranges; this policy reports every match.
# custom:
#   id: ENV-003
#   severity: deny
#   remediation: >-
#     Upgrade the package to a fixed version in the lock file (regenerate it with hashes). If the
#     vulnerable code path is provably unused, add a Waiver for ENV-003 targeting the Environment,
#     scoped to the advisory (spec.target.advisories) so it does not waive the next one.
package govops.policies.env_003

import data.govops.lib.catalog
import rego.v1

deny contains result if {
	some name, lockfile in catalog.lockfiles
	packages := catalog.list_at(lockfile, ["packages"])
	some i in catalog.flagged(lockfile)
	some advisory in catalog.list_at(packages[i], ["advisories"])
	pkg := packages[i]
	result := {
		"id": "ENV-003",
		"msg": concat("", [
			"Package ", pkg.name, " ", version_label(pkg), as_pypi(pkg),
			" in environment ", name, " is affected by ", advisory, advisory_aliases(advisory),
			advisory_summary(advisory), advisory_fix(advisory, object.get(pkg, "pypi", pkg.name)), ".",
		]),
		"kind": "Environment",
		"name": name,
		"field": "spec.lockfile",
		"package": pkg.name,
		"version": object.get(pkg, "version", null),
		"advisory": advisory,
	}
}

# A conda build of a PyPI project is matched by that project's advisories: say so.
as_pypi(pkg) := concat("", [" (conda; PyPI ", pkg.pypi, ")"]) if {
	is_string(pkg.pypi)
} else := ""

version_label(pkg) := version if {
	version := pkg.version
	is_string(version)
} else := "(unpinned)"

# The other names of the vulnerability: records that share an alias are merged into one by the
# engine (engine/advisories/merge.py), so one flaw is one result, whichever id a waiver names.
advisory_aliases(id) := concat("", [" (also ", concat(", ", aliases), ")"]) if {
	aliases := catalog.list_at(data.govops.advisories, [id, "aliases"])
	count(aliases) > 0
} else := ""

# The engine may know advisories this library does not ship (none today): then the id alone.
advisory_summary(id) := concat("", [": ", summary]) if {
	summary := catalog.text_at(data.govops.advisories, [id, "summary"])
} else := ""

advisory_fix(id, package_name) := concat("", ["; upgrade to ", concat(" or ", fixes), " or later"]) if {
	fixes := fixed_versions(id, package_name)
	count(fixes) > 0
} else := ""

# Every version an OSV record names as fixed for this PyPI package, sorted for a stable message.
# Only ECOSYSTEM and SEMVER ranges name versions: a GIT range's `fixed` is a commit hash, which
# no one can upgrade to in a lock file.
fixed_versions(id, package_name) := sort({version |
	some affected in catalog.list_at(data.govops.advisories, [id, "affected"])
	object.get(affected, ["package", "ecosystem"], "") == "PyPI"
	pep503(object.get(affected, ["package", "name"], "")) == package_name
	some range in catalog.list_at(affected, ["ranges"])
	versioned_ranges[object.get(range, "type", "")]
	some event in catalog.list_at(range, ["events"])
	version := event.fixed
})

versioned_ranges := {"ECOSYSTEM", "SEMVER"}

# PEP 503 normalisation, as the engine applies it to lock-file names.
pep503(name) := lower(regex.replace(name, `[-_.]+`, "-"))
