"""Names in the AIBOM: purls of models, datasets, packages and images, and the cards' fields."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.bom import cards, refs
from engine.catalog import GovObject
from tests.support.repos import ROOT


@pytest.mark.parametrize(("reference", "repository", "tag", "digest"), [
    ("ghcr.io/acme/vllm@sha256:" + "a" * 64, "ghcr.io/acme/vllm", None, "sha256:" + "a" * 64),
    ("ghcr.io/acme/train:2026.10@sha256:" + "b" * 64, "ghcr.io/acme/train", "2026.10",
     "sha256:" + "b" * 64),
    ("nvcr.io/nvidia/pytorch:24.05-py3", "nvcr.io/nvidia/pytorch", "24.05-py3", None),
    ("localhost:5000/serve", "localhost:5000/serve", None, None),
    ("localhost:5000/serve:v1", "localhost:5000/serve", "v1", None),
])
def test_image_references_split_like_a_registry_reads_them(reference: str, repository: str,
                                                           tag: str | None,
                                                           digest: str | None) -> None:
    image = refs.parse_image(reference)
    assert (image.repository, image.tag, image.digest) == (repository, tag, digest)


def test_image_purl_follows_the_oci_purl_spec() -> None:
    image = refs.parse_image("ghcr.io/Acme/VLLM:1.0@sha256:" + "c" * 64)
    assert image.purl() == ("pkg:oci/vllm@sha256:" + "c" * 64
                            + "?repository_url=ghcr.io/Acme/VLLM&tag=1.0")


@pytest.mark.parametrize(("source", "revision", "purl"), [
    ("hf://meta-llama/Meta-Llama-3-8B-Instruct", "5F0B02",
     "pkg:huggingface/meta-llama/Meta-Llama-3-8B-Instruct@5f0b02"),
    ("hf://BAAI/bge-large-en-v1.5", None, "pkg:huggingface/BAAI/bge-large-en-v1.5"),
    ("s3://acme-models/classifier/", "v3",
     "pkg:generic/m@v3?download_url=s3://acme-models/classifier/"),
    ("hf://just-a-name", "r1", "pkg:generic/m@r1?download_url=https://huggingface.co/just-a-name"),
    ("models on the shared drive", None, "pkg:generic/m"),
])
def test_model_purls(source: str, revision: str | None, purl: str) -> None:
    assert refs.model_purl("m", source, revision) == purl


def test_package_purls_for_pypi_and_conda() -> None:
    assert refs.package_purl("pypi", "torch", "2.6.0+cu124") == "pkg:pypi/torch@2.6.0%2Bcu124"
    assert refs.package_purl("pypi", "left-pad", None) == "pkg:pypi/left-pad"
    url = "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-hb806964_0_cpython.conda"
    assert refs.package_purl("conda", "python", "3.11.9", url, "hb806964_0_cpython") == (
        "pkg:conda/python@3.11.9?build=hb806964_0_cpython&channel=conda-forge"
        "&subdir=linux-64&type=conda")
    noarch = "https://conda.anaconda.org/conda-forge/noarch/tqdm-4.67.1-pyhd8ed1ab_1.tar.bz2"
    assert refs.package_purl("conda", "tqdm", "4.67.1", noarch, "pyhd8ed1ab_1").endswith(
        "subdir=noarch&type=tar.bz2")


def _obj(kind: str, spec: dict[str, object], owners: list[str] | None = None) -> GovObject:
    metadata: dict[str, object] = {"name": "x"}
    if owners:
        metadata["owners"] = owners
    return GovObject(kind, "x", f"{kind.lower()}s/x.yaml",
                     {"kind": kind, "metadata": metadata, "spec": spec}, {})


def test_dataset_data_names_owners_and_sensitive_data() -> None:
    data = cards.dataset_data(_obj("Dataset", {"source": "s3://b/d/", "pii": True,
                                               "classification": "restricted"},
                                   owners=["data-gov@acme.test", "Team Privacy"]))
    assert data == [{
        "type": "dataset", "name": "x", "contents": {"url": "s3://b/d/"},
        "classification": "restricted",
        "sensitiveData": ["personally identifiable information (pii: true)"],
        "governance": {"owners": [{"contact": {"email": "data-gov@acme.test"}},
                                  {"contact": {"name": "Team Privacy"}}]},
    }]
    plain = cards.dataset_data(_obj("Dataset", {"source": "local folder", "pii": False}))
    assert plain == [{"type": "dataset", "name": "x"}]


def test_model_card_of_a_high_risk_model_without_known_task_or_family() -> None:
    card = cards.model_card(_obj("Model", {"source": "s3://m/", "risk": "high",
                                           "task": "protein-folding",
                                           "datasets": ["gone"]}), {})
    assert card["modelParameters"] == {"task": "protein-folding",
                                       "datasets": [{"type": "dataset", "name": "gone"}]}
    assert "High risk" in card["considerations"]["ethicalConsiderations"][0]["name"]
    assert "quantitativeAnalysis" not in card


@pytest.mark.parametrize(("spec", "family"), [
    ({"source": "hf://mistralai/Mixtral-8x22B-Instruct-v0.1"}, "mixtral"),
    ({"source": "hf://BAAI/bge-large-en-v1.5"}, "bert"),
    ({"source": "s3://x/", "architecture": "Phi3ForCausalLM"}, "phi"),
    ({"source": "hf://acme/graph-net"}, None),
])
def test_architecture_family(spec: dict[str, str], family: str | None) -> None:
    assert cards.architecture_family(spec) == family


def test_the_check_path_never_imports_the_aibom_libraries() -> None:
    """pre-commit runs `govops check`: cyclonedx and jsonschema-rs must stay out of it."""
    code = ("import sys, engine.commands.check, engine.cli.main; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cyclonedx', 'jsonschema_rs', 'packageurl', 'engine')"
            " and (m.startswith(('cyclonedx', 'jsonschema_rs', 'packageurl'))"
            " or m.startswith('engine.bom'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
