"""The deploy stage: turn one Stack of one revision into Kubernetes state, and deploy it.

`spec` builds the frozen input of a Pulumi program, `mock` runs the program in Pulumi's mock mode
and captures what it registers, `manifests` normalises that into manifests and their digest,
`render` composes the three into a `plan.Plan` (changes in `changes`). `gate` decides whether a
revision may be deployed, `targets` which earlier deployment a rollback names, `applied` what
a deployment entry recorded, and `pulumi_run` alone talks to the Pulumi engine. Nothing the
command line imports at start-up may import pulumi: `mock` and `pulumi_run` are imported only
when a program runs.
"""
