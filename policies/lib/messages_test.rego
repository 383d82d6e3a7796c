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

gpus := {"nvidia-h100-80gb", "nvidia-h200", "nvidia-a100-80gb", "nvidia-a100-40gb", "nvidia-l4", "nvidia-t4"}

test_did_you_mean_names_the_closest_candidate if {
	messages.did_you_mean("bge-m3-v2", {"bge-m3", "llama-3-8b", "mistral-7b"}) == " (did you mean \"bge-m3\"?)"
	messages.did_you_mean("nvidia-h100", gpus) == " (did you mean \"nvidia-h100-80gb\"?)"
	messages.did_you_mean("nvdia-a100-40gb", gpus) == " (did you mean \"nvidia-a100-40gb\"?)"
	messages.did_you_mean("PII", ["pii", "public"]) == " (did you mean \"pii\"?)"
}

test_did_you_mean_says_nothing_when_nothing_is_close if {
	messages.did_you_mean("tpu-v5", gpus) == ""
	messages.did_you_mean("x", {"bge-m3"}) == ""
	messages.did_you_mean("bge-m3", []) == ""
	messages.did_you_mean("", {"a"}) == ""
	messages.did_you_mean(null, {"bge-m3"}) == ""
	messages.did_you_mean(3, {"3"}) == ""
}

test_did_you_mean_is_deterministic_on_ties if {
	messages.did_you_mean("ab", {"ab-x", "ab-y"}) == " (did you mean \"ab-x\"?)"
}
