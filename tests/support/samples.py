"""Sample objects shared by test modules: a good governed repo's files, a model, an
environment, the policy ids."""

MODEL = """apiVersion: govops.dev/v1
kind: Model
metadata:
  name: tiny
spec:
  source: hf://acme/tiny
  revision: 5f0b02c75b57c5855da9ae460ce51323ea669d8a
  digest: sha256:{d}
  format: safetensors
  license: MIT
""".format(d="0" * 64)

ENVIRONMENT = """apiVersion: govops.dev/v1
kind: Environment
metadata:
  name: serve
spec:
  python: "3.11"
  image: ghcr.io/acme/serve@sha256:{d}
  lockfile: environments/serve.txt
""".format(d="1" * 64)

GOOD = {
    "govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\n",
    "models/tiny.yaml": MODEL,
    "environments/serve.yaml": ENVIRONMENT,
    "environments/serve.txt": "numpy==2.1.0 --hash=sha256:" + "2" * 64 + "\n",
}

LLAMA = MODEL.replace("name: tiny", "name: llama").replace("license: MIT", "license: llama3")

ALL_IDS = {"MDL-001", "MDL-002", "MDL-003", "MDL-004", "MDL-005", "MDL-006", "DAT-001", "ENV-001",
           "ENV-002", "ENV-003", "STK-001", "STK-002", "STK-003", "STK-004", "CHG-001", "WVR-001"}


def environment(name: str, lockfile: str) -> str:
    return f"""apiVersion: govops.dev/v1
kind: Environment
metadata:
  name: {name}
spec:
  python: "3.11"
  image: ghcr.io/acme/{name}@sha256:{"1" * 64}
  lockfile: {lockfile}
"""

# The chat workload of fixtures/acme-ml/stacks/prod-inference.yaml, as it is written there:
# tests that give it more (command, env, probes, volumes...) replace these lines.
ACME_CHAT = b"""    - name: chat
      kind: inference
      model: llama-3-8b-instruct
      environment: vllm-serve
      replicas: 3
      gpusPerReplica: 1
"""
