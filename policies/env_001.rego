# METADATA
# title: Lock files pin every package to one version with a hash
# description: >-
#   An environment is reproducible and tamper-evident only if its lock file resolves every
#   package to exactly one version and carries the hash pip checks on install.
# custom:
#   id: ENV-001
#   severity: deny
#   remediation: >-
#     Set spec.lockfile and generate it with hashes (pip-compile --generate-hashes, uv pip compile
#     --generate-hashes, or pylock.toml), so every package is pinned with == and has --hash.
package govops.policies.env_001

import data.govops.lib.catalog
import data.govops.lib.messages
import rego.v1

deny contains result if {
	some name, environment in catalog.environments
	not catalog.text_at(environment, ["spec", "lockfile"])
	result := {
		"id": "ENV-001",
		"msg": concat("", ["Environment ", name, " declares no spec.lockfile: add a lock file with pinned, hashed packages."]),
		"kind": "Environment",
		"name": name,
		"field": "spec",
	}
}

# One result per package, naming every problem it has, so a lock file without hashes does not
# report each package twice.
deny contains result if {
	some name, lockfile in catalog.lockfiles
	packages := catalog.list_at(lockfile, ["packages"])
	some i in catalog.flagged(lockfile)
	pkg := packages[i]
	problems := array.concat(unpinned(pkg), unhashed(pkg))
	count(problems) > 0
	result := {
		"id": "ENV-001",
		"msg": concat("", ["Package ", pkg.name, " in the lock file of environment ", name, " ", concat(" and ", problems), "."]),
		"kind": "Environment",
		"name": name,
		"field": "spec.lockfile",
		"package": pkg.name,
		"version": object.get(pkg, "version", null),
	}
}

# The engine sets version only for an exact == or === pin; ranges and bare names leave it null.
unpinned(pkg) := [concat("", [
	"is not pinned to one exact version (specifier ",
	messages.quote(object.get(pkg, "specifier", "")), ")",
])] if {
	object.get(pkg, "version", null) == null
} else := []

unhashed(pkg) := ["has no hash"] if {
	count(catalog.list_at(pkg, ["hashes"])) == 0
} else := []
