# METADATA
# title: Message building
# description: >-
#   Messages are built with concat, never by interpolating strings with sprintf: rego-cpp
#   (the regopy backend) wraps strings that Rego computed (lower, concat, literals bound to
#   variables or function arguments) in quotes when sprintf formats them, OPA does not.
package govops.lib.messages

import rego.v1

# A value as message text. sprintf is safe for a lone number; anything else is shown by type.
str(x) := x if {
	is_string(x)
} else := sprintf("%v", [x]) if {
	is_number(x)
} else := "true" if {
	x == true
} else := "false" if {
	x == false
} else := "null" if {
	x == null
} else := concat("", ["a value of type ", type_name(x)])

# A user-supplied value, quoted so that blanks and odd values stand out.
quote(x) := concat("", ["\"", x, "\""]) if {
	is_string(x)
} else := str(x)

# Items joined with ", ", sorted so the message does not depend on iteration order.
join(items) := "none" if {
	count(items) == 0
} else := concat(", ", sort(items))

# The name a user probably meant, as message text to put before the final period:
# ` (did you mean "bge-m3"?)`, or "" when no candidate is close. Rego has no edit distance, so
# closeness is the Dice coefficient of the two names' character pairs, case aside (at least
# one half), ties broken by the longer common prefix (`nvidia-h100` means
# `nvidia-h100-80gb`, not `nvidia-h200`), then by name, so both engines name the same one.
did_you_mean(value, candidates) := concat("", [" (did you mean ", quote(closest(value, candidates)), "?)"]) if {
	is_string(value)
	value != ""
	closest(value, candidates)
} else := ""

closest(value, candidates) := sort(tied)[0] if {
	# The score is bound in the body: rego-cpp yields an empty object for a call in the head.
	scores := {name: score |
		some name in candidates
		is_string(name)
		name != ""
		score := closeness(lower(value), lower(name))
	}
	best := max([score | some name; score := scores[name]; score >= 500000])
	tied := [name | some name; scores[name] == best]
}

# Dice coefficient in thousandths, x 1000, plus the common prefix (capped below 1000).
closeness(a, b) := (floor((2000 * count(pairs(a) & pairs(b))) / (count(pairs(a)) + count(pairs(b)))) * 1000) + min([common_prefix(a, b), 999])

pairs(s) := {substring(s, i, 2) | some i in numbers.range(0, count(s) - 2)} if {
	count(s) >= 2
} else := {s}

common_prefix(a, b) := count([i |
	some i in numbers.range(1, min([count(a), count(b)]))
	substring(a, 0, i) == substring(b, 0, i)
])
