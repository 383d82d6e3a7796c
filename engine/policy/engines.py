"""The names `--engine` accepts, apart from the backends themselves so that the command line
can offer them without importing any Rego engine."""

ENGINES = ("auto", "opa-server", "opa", "regopy")

# In a decision's engine_version when `auto` did not get its first choice, before the reasons.
FELL_BACK = "auto fell back to it"
