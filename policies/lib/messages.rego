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
