"""The names `--engine` accepts, apart from the backends themselves so that the command line
can offer them without importing any Rego engine."""

ENGINES = ("auto", "opa", "regopy")
