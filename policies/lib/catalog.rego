# METADATA
# title: Catalog accessors
# description: >-
#   The governed objects and parsed lock files of the input, with defaults for every part the
#   engine may leave out (tests replace only parts of the input, and YAML lists may be absent).
package govops.lib.catalog

import rego.v1

# The engine always sends every kind, but tests replace input.objects with only the kinds they
# need: an absent kind is an empty catalog, never an undefined rule.
objects_of(kind) := objs if {
	objs := input.objects[kind]
} else := {}

models := objects_of("Model")

datasets := objects_of("Dataset")

environments := objects_of("Environment")

stacks := objects_of("Stack")

waivers := objects_of("Waiver")

# Parsed lock files, keyed by environment name (only environments that declare one).
lockfiles := envs if {
	envs := input.environments
} else := {}

changes := list if {
	list := input.changes
} else := []

# What the engine worked out about each waiver: expiresDay (days since 1970-01-01) and its
# approval ({approved, approvedBy, needed, approvedAt, approvedDay, refused, trustRoot,
# problem}), verified against the trust root: signatures are not something Rego can check.
waiver_facts := facts if {
	facts := input.waivers
} else := {}

# What the engine found checking each signed Model's OpenSSF model signature, by model name:
# {verified, checked (false: its weights could not be reached), signer, problem}. Rego cannot
# verify signatures; absent for a model without spec.signature.
model_signatures := facts if {
	facts := input.modelSignatures
} else := {}

# A list at path in obj; [] when absent or not a list, so count() and iteration never fail.
list_at(obj, path) := list if {
	list := object.get(obj, path, [])
	is_array(list)
} else := []

# A non-blank string at path in obj; undefined otherwise.
text_at(obj, path) := s if {
	s := object.get(obj, path, null)
	is_string(s)
	trim_space(s) != ""
}

# Positions of the packages of a lock file a policy has to look at: those without one exact
# version, without a hash, or with a known advisory. The engine lists them (`flagged`), so that
# ENV-001 and ENV-003 do not walk 10,000 sound packages on every commit; a lock file without
# the list (a hand-written test input) is looked at whole.
flagged(lockfile) := lockfile.flagged if {
	is_array(lockfile.flagged)
} else := [i | packages := list_at(lockfile, ["packages"]); packages[i]]
