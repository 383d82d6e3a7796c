"""Which PyPI project a conda package is, for the packages ML environments carry.

OSV has no conda ecosystem, so without this a conda environment gets no advisory coverage at
all: conda `pytorch` 2.5.1 passed a check that fails PyPI `torch` 2.5.1. Names cannot simply be
assumed equal: conda-forge's `redis` is the server, the Python client is `redis-py`; `pytorch`
is PyPI's `torch`; `protobuf` is the Python package while `libprotobuf` is the C++ library.
So this is an explicit table of conda-forge / defaults / pytorch-channel packages that are
builds of a PyPI project, written by hand for the packages real ML environments carry. A
conda package not listed is matched only by records that name the conda ecosystem. Extend it
when a real environment shows a package that is missing; a wrong entry would report another
project's flaws, so every entry is a package whose conda recipe builds the PyPI sdist or wheel
of that name.
"""

from __future__ import annotations

# conda name -> PyPI name (PEP 503-normalised). Same-name entries are listed on purpose: being
# in the table is the claim that the conda package is that PyPI project.
CONDA_TO_PYPI: dict[str, str] = {
    # deep learning frameworks and their satellites
    "pytorch": "torch",
    "pytorch-gpu": "torch",
    "pytorch-cpu": "torch",
    "torchvision": "torchvision",
    "torchaudio": "torchaudio",
    "pytorch-lightning": "pytorch-lightning",
    "lightning": "lightning",
    "tensorflow": "tensorflow",
    "tensorflow-base": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "huggingface_hub": "huggingface-hub",
    "datasets": "datasets",
    "accelerate": "accelerate",
    "sentencepiece": "sentencepiece",
    "timm": "timm",
    "mlflow": "mlflow",
    "mlflow-skinny": "mlflow",
    "gradio": "gradio",
    "ray-core": "ray",
    "ray-default": "ray",
    # scientific Python
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "scikit-learn": "scikit-learn",
    "scikit-image": "scikit-image",
    "pillow": "pillow",
    "matplotlib-base": "matplotlib",
    "matplotlib": "matplotlib",
    "h5py": "h5py",
    "numba": "numba",
    "pyarrow": "pyarrow",
    "opencv-python": "opencv-python",
    "py-opencv": "opencv-python",
    # web, serialisation and networking libraries that advisories hit most
    "requests": "requests",
    "urllib3": "urllib3",
    "aiohttp": "aiohttp",
    "certifi": "certifi",
    "idna": "idna",
    "cryptography": "cryptography",
    "pyopenssl": "pyopenssl",
    "jinja2": "jinja2",
    "markupsafe": "markupsafe",
    "werkzeug": "werkzeug",
    "flask": "flask",
    "tornado": "tornado",
    "starlette": "starlette",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "h11": "h11",
    "httpx": "httpx",
    "pyyaml": "pyyaml",
    "protobuf": "protobuf",
    "grpcio": "grpcio",
    "lxml": "lxml",
    "redis-py": "redis",
    "setuptools": "setuptools",
    "pip": "pip",
    "wheel": "wheel",
    "py": "py",
    "future": "future",
    "paramiko": "paramiko",
    "sqlalchemy": "sqlalchemy",
    "ipython": "ipython",
    "jupyter_server": "jupyter-server",
    "notebook": "notebook",
    "nltk": "nltk",
    "tqdm": "tqdm",
    "joblib": "joblib",
    "dask-core": "dask",
    "distributed": "distributed",
    "gitpython": "gitpython",
    "zipp": "zipp",
    "wandb": "wandb",
}


def pypi_name(conda_name: str) -> str | None:
    """The PyPI project a conda package builds, or None when the table does not say."""
    return CONDA_TO_PYPI.get(conda_name.lower())
