"""The CycloneDX 1.6 fields cyclonedx-python-lib has no classes for: a model's `modelCard` and
a dataset's `data`. They are added to the serialised JSON by bom-ref (`build.py`), and must
never be read back through `Bom.from_json`, which would drop them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.bom import refs
from engine.catalog import GovObject

# Hugging Face task -> (input format, output format).
_TASK_IO = {
    "text-generation": ("text", "text"),
    "text2text-generation": ("text", "text"),
    "summarization": ("text", "text"),
    "translation": ("text", "text"),
    "question-answering": ("text", "text"),
    "fill-mask": ("text", "text"),
    "conversational": ("text", "text"),
    "text-classification": ("text", "label"),
    "token-classification": ("text", "labels per token"),
    "zero-shot-classification": ("text", "label"),
    "feature-extraction": ("text", "embedding vector"),
    "sentence-similarity": ("text", "similarity score"),
    "text-ranking": ("text pair", "relevance score"),
    "image-classification": ("image", "label"),
    "object-detection": ("image", "bounding boxes"),
    "image-to-text": ("image", "text"),
    "text-to-image": ("text", "image"),
    "automatic-speech-recognition": ("audio", "text"),
    "text-to-speech": ("text", "audio"),
}

# Tokens of an architecture or source name -> architecture family.
_FAMILIES = (
    ("mixtral", "mixtral"), ("mistral", "mistral"), ("llama", "llama"), ("phi", "phi"),
    ("gemma", "gemma"), ("qwen", "qwen"), ("falcon", "falcon"), ("deepseek", "deepseek"),
    ("gpt", "gpt"), ("t5", "t5"), ("bge", "bert"), ("bert", "bert"), ("roberta", "bert"),
    ("whisper", "whisper"), ("clip", "clip"), ("vit", "vit"), ("stable-diffusion", "diffusion"),
)

_RISK = {
    "minimal": ("Minimal risk (EU AI Act tier): no obligations beyond the general ones.",
                "Voluntary codes of conduct."),
    "limited": ("Limited risk (EU AI Act tier): users must be told they are dealing with an AI "
                "system.", "Disclose AI use to the people who interact with the model."),
    "high": ("High risk (EU AI Act tier): a risk-management system, data governance, human "
             "oversight and logging are required.",
             "Evaluations and named owners are enforced by policy MDL-004; keep human "
             "oversight and logging in the serving stack."),
}


def architecture_family(spec: Mapping[str, Any]) -> str | None:
    haystack = " ".join(str(spec.get(k, "")) for k in ("architecture", "source")).lower()
    for token, family in _FAMILIES:
        if re.search(rf"(^|[^a-z]){re.escape(token)}", haystack):
            return family
    return None


def model_card(obj: GovObject, datasets: Mapping[str, GovObject]) -> dict[str, Any]:
    """modelParameters, quantitativeAnalysis and considerations from a Model; datasets that
    exist are referenced by bom-ref, names that do not (MDL-003) are kept as inline entries."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    parameters: dict[str, Any] = {}
    if spec.get("task"):
        parameters["task"] = spec["task"]
    if family := architecture_family(spec):
        parameters["architectureFamily"] = family
    if spec.get("architecture"):
        parameters["modelArchitecture"] = spec["architecture"]
    named = list(spec.get("datasets") or [])
    if named:
        parameters["datasets"] = [
            {"ref": refs.dataset_ref(name)} if name in datasets
            else {"type": "dataset", "name": name}
            for name in named
        ]
    if (io := _TASK_IO.get(str(spec.get("task", "")))) is not None:
        parameters["inputs"] = [{"format": io[0]}]
        parameters["outputs"] = [{"format": io[1]}]
    card: dict[str, Any] = {"bom-ref": f"{refs.model_ref(obj.name)}#model-card"}
    if parameters:
        card["modelParameters"] = parameters
    metrics = [
        {"type": str(e["metric"]), "value": _number(e["value"]),
         **({"slice": str(e["dataset"])} if e.get("dataset") else {})}
        for e in spec.get("evaluations") or []
    ]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations: dict[str, Any] = {}
    if spec.get("intendedUse"):
        considerations["useCases"] = [str(u) for u in spec["intendedUse"]]
    if spec.get("limitations"):
        considerations["technicalLimitations"] = [str(x) for x in spec["limitations"]]
    if (risk := _RISK.get(str(spec.get("risk", "")))) is not None:
        considerations["ethicalConsiderations"] = [{"name": risk[0],
                                                    "mitigationStrategy": risk[1]}]
    if considerations:
        card["considerations"] = considerations
    return card


def dataset_data(obj: GovObject) -> list[dict[str, Any]]:
    """The `data` entry of a Dataset: classification, sensitive data when pii, owners."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    entry: dict[str, Any] = {"type": "dataset", "name": obj.name}
    if (url := refs.source_url(spec["source"], spec.get("revision"))) is not None:
        entry["contents"] = {"url": url}
    if spec.get("classification"):
        entry["classification"] = str(spec["classification"])
    if spec.get("pii") is True:
        entry["sensitiveData"] = ["personally identifiable information (pii: true)"]
    owners = list(obj.doc["metadata"].get("owners") or [])
    if owners:
        entry["governance"] = {"owners": [{"contact": _contact(o)} for o in owners]}
    return [entry]


def _contact(owner: str) -> dict[str, str]:
    return {"email": owner} if re.fullmatch(r"[^@\s]+@[^@\s]+", owner) else {"name": owner}


def _number(value: Any) -> str:
    """Metric values are strings in CycloneDX; `0.684`, not `0.6840000000000001`."""
    return repr(value) if isinstance(value, float) else str(value)
