"""The deploy stage: turn one Stack of one revision into the desired Kubernetes state.

`spec` builds the frozen input of a Pulumi program, `mock` runs the program in Pulumi's mock mode
and captures what it registers, `manifests` normalises that into manifests and their digest,
`plan` composes the three. Nothing here talks to a cluster or to the Pulumi engine, and nothing
importable from `engine.check` or `engine.cli` at start-up may import pulumi: `mock` imports it
only when a program runs.
"""
