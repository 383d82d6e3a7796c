package govops.lib.messages_test

import data.govops.lib.messages
import rego.v1

test_str if {
	messages.str("x") == "x"
	messages.str(16000000000) == "16000000000"
	messages.str(true) == "true"
	messages.str(false) == "false"
	messages.str(null) == "null"
	messages.str([1]) == "a value of type array"
}

# The reason messages exist: a string Rego computed must not come out quoted on either backend.
test_computed_strings_stay_unquoted if {
	name := lower("MODEL")
	concat("", ["Model ", name, " is ", messages.str(3)]) == "Model model is 3"
	messages.quote(name) == "\"model\""
	messages.quote(3) == "3"
}

test_join_sorts if {
	messages.join(["MIT", "Apache-2.0"]) == "Apache-2.0, MIT"
	messages.join([]) == "none"
}
