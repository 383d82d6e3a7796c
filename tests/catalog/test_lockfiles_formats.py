"""Every lock-file format parsed from the samples in fixtures/lockfiles/, and every corrupt case
named with its line. Includes (`-r`) across files are in test_lockfiles_includes.py."""

from __future__ import annotations

import pytest

from engine.catalog.lockfiles import (
    LockedPackage,
    LockFile,
    lockfile_family,
    lockfile_format,
    parse_lockfile,
)
from engine.catalog.lockfiles.model import hash_problem
from engine.errors import InputError
from tests.support.repos import FIXTURES

SAMPLES = FIXTURES / "lockfiles"


def _sample(relative: str) -> LockFile:
    return parse_lockfile(relative, (SAMPLES / relative).read_text())


def _raises(path: str, text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_lockfile(path, text)
    assert caught.value.path == path
    return caught.value


# -- which format a file is ---------------------------------------------------------------

@pytest.mark.parametrize(("path", "text", "fmt"), [
    ("env/uv.lock", "", "uv"),
    ("pylock.toml", "", "pylock"),
    ("env/pylock.serve.toml", "", "pylock"),
    ("env/conda-linux-64.lock", "", "conda"),
    ("env/explicit.txt", "# platform: linux-64\n@EXPLICIT\n", "conda"),
    ("env/serve.txt", "numpy==1.26.4\n", "requirements"),
    ("env/serve.in", "numpy\n", "requirements"),
    ("env/serve.txt", "", "requirements"),
    ("env/poetry.lock", "", None),
    ("env/Pipfile.lock", "", None),
    ("env/uv.lock.txt", "numpy==1.0\n", "requirements"),
])
def test_format_by_name_then_content(path: str, text: str, fmt: str | None) -> None:
    assert lockfile_format(path, text) == fmt


def test_text_files_share_a_family_so_the_cache_keys_them_by_name_and_blob() -> None:
    assert lockfile_family("a/serve.txt") == lockfile_family("a/explicit.txt") == "text"
    assert lockfile_family("a/uv.lock") == "uv"
    # Another .lock is a conda explicit file when its @EXPLICIT line says so (issue 18):
    # its own family, so the cache never mixes it up with a .txt of the same bytes.
    assert lockfile_family("a/x.lock") == "lock"
    assert lockfile_family("a/conda-lock.yml") == "conda-lock"
    assert lockfile_family("a/poetry.toml") is None


def test_unknown_format_is_an_input_error() -> None:
    error = _raises("env/poetry.lock", "[[package]]\n")
    assert error.line is None
    assert "unknown lock file format" in error.message and "uv.lock" in error.message


# -- records: every field, JSON round trip ------------------------------------------------

def test_records_round_trip_through_plain_data() -> None:
    lock = _sample("conda/explicit-linux-64.txt")
    again = LockFile.from_json(lock.as_json())
    assert again.packages == lock.packages
    assert again.format == "conda"
    assert set(lock.records[0]) == {"name", "version", "specifier", "extras", "marker", "hashes",
                                     "line", "ecosystem", "url", "build", "path"}
    with_includes = LockFile.of("requirements", [], [(3, "base.txt")])
    assert LockFile.from_json(with_includes.as_json()).includes == ((3, "base.txt"),)
    package = LockedPackage("numpy", "2.1.0", "==2.1.0", (), "", ("md5:" + "0" * 32,), 4,
                            "conda", "https://x/numpy-2.1.0-h1_0.conda", "h1_0", "base.txt")
    assert LockedPackage.from_json(package.as_json()) == package


@pytest.mark.parametrize(("value", "problem"), [
    ("sha256:" + "a" * 64, None),
    ("md5:" + "a" * 32, None),
    ("sha384:" + "a" * 96, None),
    ("sha512:" + "a" * 128, None),
    ("sha256:" + "A" * 64, "lowercase"),
    ("sha256:" + "a" * 63, "64"),
    ("md5:" + "a" * 64, "32"),
    ("sha1:" + "a" * 40, "unsupported algorithm"),
    ("a" * 64, "expected <algorithm>:<hex>"),
])
def test_hash_strings_are_algo_colon_lowercase_hex(value: str, problem: str | None) -> None:
    found = hash_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


# -- uv.lock ------------------------------------------------------------------------------

def test_uv_lock_sample() -> None:
    lock = _sample("uv/uv.lock")
    assert lock.format == "uv"
    assert lock.includes == ()
    assert [(p.name, p.version, p.line) for p in lock.packages] == [
        ("filelock", "3.16.1", 43),
        ("flash-attn", "2.6.3", 52),
        ("numpy", "1.26.4", 60),
        ("safetensors", "0.4.5", 72),
        ("torch", "2.5.1", 84),
        ("torch", "2.5.1+cu124", 98),
        ("vllm", "0.6.4.post1", 113),
    ]
    assert {p.ecosystem for p in lock.packages} == {"pypi"}
    assert {p.path for p in lock.packages} == {""}
    assert {p.build for p in lock.packages} == {""}


def test_uv_lock_skips_the_editable_project_and_the_virtual_workspace_root() -> None:
    text = (SAMPLES / "uv/uv.lock").read_text()
    assert 'source = { editable = "serve" }' in text and 'source = { virtual = "." }' in text
    names = {p.name for p in _sample("uv/uv.lock").packages}
    assert "acme-serve" not in names and "acme-workspace" not in names


def test_uv_lock_keeps_both_versions_of_a_forked_package_with_their_markers() -> None:
    torches = [p for p in _sample("uv/uv.lock").packages if p.name == "torch"]
    assert [(p.version, p.specifier, p.marker) for p in torches] == [
        ("2.5.1", "==2.5.1", "sys_platform == 'darwin'"),
        ("2.5.1+cu124", "==2.5.1+cu124", "sys_platform == 'linux'"),
    ]
    assert torches[1].url.startswith("https://download.pytorch.org/whl/cu124/torch-2.5.1")
    assert len(torches[1].hashes) == 2


def test_uv_lock_hashes_are_sdist_then_wheels_and_url_is_the_first_artifact() -> None:
    numpy = next(p for p in _sample("uv/uv.lock").packages if p.name == "numpy")
    assert len(numpy.hashes) == 5  # sdist + four platform wheels
    assert all(h.startswith("sha256:") and len(h) == 7 + 64 for h in numpy.hashes)
    assert numpy.url.endswith("/numpy-1.26.4.tar.gz")
    torch_mac = next(p for p in _sample("uv/uv.lock").packages if p.version == "2.5.1")
    assert torch_mac.url.endswith("torch-2.5.1-cp311-none-macosx_11_0_arm64.whl")


def test_uv_lock_git_source_has_no_hash_and_no_url() -> None:
    flash = next(p for p in _sample("uv/uv.lock").packages if p.name == "flash-attn")
    assert (flash.version, flash.hashes, flash.url) == ("2.6.3", (), "")


UV_HEAD = 'version = 1\nrevision = 2\nrequires-python = ">=3.11"\n\n'
H = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64


def test_uv_lock_same_hash_twice_is_kept_once_and_url_source_names_its_url() -> None:
    text = UV_HEAD + f"""[[package]]
name = "Tiny_Pkg"
version = "1.0"
source = {{ url = "https://example.test/tiny_pkg-1.0.tar.gz" }}
sdist = {{ hash = "{H}" }}
wheels = [
    {{ url = "https://example.test/tiny_pkg-1.0-py3-none-any.whl", hash = "{H2}" }},
    {{ url = "https://example.test/tiny_pkg-1.0-py2-none-any.whl", hash = "{H}" }},
]

[[package]]
name = "unpinned"
source = {{ directory = "libs/unpinned" }}
"""
    lock = parse_lockfile("uv.lock", text)
    tiny, unpinned = lock.packages
    assert (tiny.name, tiny.hashes, tiny.line) == ("tiny-pkg", (H, H2), 5)
    assert tiny.url == "https://example.test/tiny_pkg-1.0-py3-none-any.whl"
    assert (unpinned.version, unpinned.specifier, unpinned.hashes, unpinned.line) == (
        None, "", (), 15)


def test_uv_lock_url_source_without_artifact_urls_names_the_source_url() -> None:
    text = UV_HEAD + f"""[[package]]
name = "tiny"
version = "1.0"
source = {{ url = "https://example.test/tiny-1.0.tar.gz" }}
sdist = {{ hash = "{H}" }}
"""
    (tiny,) = parse_lockfile("uv.lock", text).packages
    assert tiny.url == "https://example.test/tiny-1.0.tar.gz"


def test_uv_lock_several_resolution_markers_are_joined_with_or() -> None:
    text = UV_HEAD + f"""[[package]]
name = "numpy"
version = "2.1.3"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = ["python_full_version >= '3.12'", "sys_platform == 'darwin'"]
wheels = [{{ url = "https://example.test/numpy-2.1.3-cp312-none-any.whl", hash = "{H}" }}]
"""
    (numpy,) = parse_lockfile("uv.lock", text).packages
    assert numpy.marker == "(python_full_version >= '3.12') or (sys_platform == 'darwin')"


def _uv_package(body: str) -> str:
    return UV_HEAD + "[[package]]\nname = \"ok\"\nversion = \"1.0\"\n" \
        "source = { registry = \"https://pypi.org/simple\" }\n\n" + body


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('revision = 2\n\n[[package]]\nname = "x"\n', 1, "not a uv.lock: version is missing"),
    ('# uv\nversion = 2\n', 2, "unsupported uv.lock version 2"),
    ('version = true\n', 1, "unsupported uv.lock version True"),
    ('version = 1\npackage = "x"\n', 2, "package must be an array"),
    ('version = 1\n[[package]]\nname = \n', 3, "malformed TOML"),
    (_uv_package('[[package]]\nversion = "1"\n'), 10, "needs a name"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\n'), 10, "x: source must be a table"),
    (_uv_package('[[package]]\nname = "x"\nsource = { pypi = "https://x" }\n'), 10,
     "x: source must name exactly one of"),
    (_uv_package('[[package]]\nname = "x"\nsource = { registry = "a", git = "b" }\n'), 10,
     "exactly one of"),
    (_uv_package('[[package]]\nname = "x"\nversion = 1\nsource = { registry = "a" }\n'), 10,
     "x: version must be a string"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'sdist = "x.tar.gz"\n'), 10, "x: sdist must be a table"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'wheels = ["x.whl"]\n'), 10, "x: wheels must be an array of tables"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'sdist = { hash = "sha256:abc" }\n'), 10,
     "x: malformed hash 'sha256:abc': sha256 needs 64 lowercase hex digits"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'wheels = [{ hash = "blake2b:' + "a" * 64 + '" }]\n'), 10,
     "unsupported algorithm 'blake2b'"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'wheels = [{ hash = 12 }]\n'), 10, "not a string"),
    (_uv_package('[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "a" }\n'
                 'resolution-markers = "linux"\n'), 10, "resolution-markers must be a list"),
])
def test_uv_lock_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    error = _raises("env/uv.lock", text)
    assert error.line == line, error
    assert fragment in error.message, error.message


def test_uv_lock_good_package_before_a_bad_one_is_not_the_one_blamed() -> None:
    """Guards the line counting above: the first package (line 5) parses, the second fails."""
    assert parse_lockfile("uv.lock", _uv_package("")).packages[0].line == 5


# -- conda explicit -----------------------------------------------------------------------

def test_conda_explicit_md5_sample() -> None:
    lock = _sample("conda/explicit-linux-64.txt")
    assert lock.format == "conda"
    by_name = {p.name: p for p in lock.packages}
    assert len(lock.packages) == 14
    python = by_name["python"]
    assert (python.version, python.build, python.specifier, python.line) == (
        "3.11.9", "hb806964_0_cpython", "==3.11.9", 14)
    assert python.url == ("https://conda.anaconda.org/conda-forge/linux-64/"
                          "python-3.11.9-hb806964_0_cpython.conda")
    assert python.hashes == ("md5:a81082d975ded475914bc5d07da23e78",)
    assert {p.ecosystem for p in lock.packages} == {"conda"}
    assert all(len(p.hashes) == 1 and p.hashes[0].startswith("md5:") for p in lock.packages)
    assert all(p.extras == () and p.marker == "" and p.path == "" for p in lock.packages)


def test_conda_names_with_dashes_and_underscores_split_from_the_right() -> None:
    by_name = {p.name: p for p in _sample("conda/explicit-linux-64.txt").packages}
    assert (by_name["ld_impl_linux-64"].version, by_name["ld_impl_linux-64"].build) == (
        "2.43", "h712a8e2_2")
    assert (by_name["_libgcc_mutex"].version, by_name["_libgcc_mutex"].build) == (
        "0.1", "conda_forge")
    assert by_name["cuda-cudart"].build == "0"


def test_conda_noarch_linux_and_tar_bz2_urls_keep_channel_and_subdir() -> None:
    by_name = {p.name: p for p in _sample("conda/explicit-linux-64.txt").packages}
    assert by_name["tzdata"].url.split("/")[-3:-1] == ["conda-forge", "noarch"]
    assert by_name["cuda-cudart"].url.split("/")[-3:-1] == ["nvidia", "linux-64"]
    assert by_name["typing_extensions"].url.endswith(".tar.bz2")
    assert by_name["pytorch"].url.endswith(".conda")


def test_conda_explicit_sha256_sample_on_another_platform() -> None:
    lock = _sample("conda/explicit-linux-aarch64-sha256.txt")
    assert [p.name for p in lock.packages] == [
        "libgcc", "python", "pip", "numpy", "pytorch", "typing_extensions"]
    assert all(p.hashes[0].startswith("sha256:") and len(p.hashes[0]) == 7 + 64
               for p in lock.packages)
    assert lock.packages[0].url.split("/")[-2] == "linux-aarch64"
    assert lock.packages[0].line == 6


PKG = "https://conda.anaconda.org/conda-forge/osx-arm64/numpy-2.1.3-py312h94ee1e1_0.conda"


@pytest.mark.parametrize("fragment", ["#" + "c" * 64, "#sha256:" + "c" * 64])
def test_conda_sha256_bare_or_prefixed(fragment: str) -> None:
    (numpy,) = parse_lockfile("env/explicit.txt", f"@EXPLICIT\n{PKG}{fragment}\n").packages
    assert numpy.hashes == ("sha256:" + "c" * 64,)
    assert numpy.url == PKG


def test_conda_without_checksum_has_no_hash_and_win_64_works() -> None:
    url = "https://repo.anaconda.com/pkgs/main/win-64/vs2015_runtime-14.42.34433-he29a5d6_1.conda"
    (runtime,) = parse_lockfile("conda-win-64.lock", f"@EXPLICIT\n\n  {url}  \n").packages
    assert (runtime.name, runtime.version, runtime.build, runtime.hashes, runtime.line) == (
        "vs2015_runtime", "14.42.34433", "he29a5d6_1", (), 3)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    (f"# platform: osx-arm64\n{PKG}\n@EXPLICIT\n", 2, "comes before the @EXPLICIT line"),
    ("# platform: osx-arm64\n# nothing else\n", 1, "no @EXPLICIT line"),
    ("@EXPLICIT\nnumpy=2.1.3=py312h94ee1e1_0\n", 2, "not a package URL"),
    ("@EXPLICIT\n/opt/pkgs/numpy-2.1.3-py312h94ee1e1_0.conda\n", 2, "not a package URL"),
    ("@EXPLICIT\n\n" + PKG.replace(".conda", ".whl") + "\n", 3, "unknown package file"),
    ("@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/noarch/pip-24.3.1.conda\n", 2,
     "is not named name-version-build.conda"),
    (f"@EXPLICIT\n{PKG}#\n", 2, "malformed checksum"),
    (f"@EXPLICIT\n{PKG}#{'c' * 40}\n", 2, "malformed checksum"),
    (f"@EXPLICIT\n{PKG}#{'C' * 32}\n", 2, "malformed checksum"),
    (f"@EXPLICIT\n{PKG}#md5:{'c' * 32}\n", 2, "malformed checksum"),
    (f"@EXPLICIT\n{PKG}#{'c' * 32}\n{PKG} extra\n", 3, "not a package URL"),
])
def test_conda_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    error = _raises("env/conda-osx-arm64.lock", text)
    assert error.line == line, error
    assert fragment in error.message, error.message


# -- pip requirements ---------------------------------------------------------------------

def test_requirements_sample_with_include_continuations_extras_markers_hashes() -> None:
    lock = _sample("requirements/serve.txt")
    assert lock.format == "requirements"
    assert lock.includes == ((8, "base.txt"),)
    by_name = {p.name: p for p in lock.packages}
    assert list(by_name) == ["torch", "uvicorn", "vllm", "xformers"]
    torch = by_name["torch"]
    assert (torch.version, torch.line, len(torch.hashes)) == ("2.5.1+cu124", 9, 2)
    assert torch.marker == 'sys_platform == "linux" and platform_machine == "x86_64"'
    assert by_name["uvicorn"].extras == ("standard",)
    assert (by_name["xformers"].line, len(by_name["xformers"].hashes)) == (21, 1)
    assert {(p.ecosystem, p.url, p.build, p.path) for p in lock.packages} == {
        ("pypi", "", "", "")}
    base = _sample("requirements/base.txt")
    assert base.includes == ()
    assert [(p.name, len(p.hashes)) for p in base.packages] == [
        ("filelock", 2), ("numpy", 3), ("safetensors", 2), ("typing-extensions", 2)]


@pytest.mark.parametrize(("line", "target"), [
    ("-r base.txt", "base.txt"),
    ("-rbase.txt", "base.txt"),
    ("--requirement base.txt", "base.txt"),
    ("--requirement=../common/base.txt", "../common/base.txt"),
    ("-r  sub/base.txt  # shared pins", "sub/base.txt"),
])
def test_requirements_include_spellings(line: str, target: str) -> None:
    lock = parse_lockfile("env/serve.txt", f"numpy==1.0 --hash={H}\n{line}\n")
    assert lock.includes == ((2, target),)
    assert [p.name for p in lock.packages] == ["numpy"]


def test_requirements_require_hashes_option_is_accepted() -> None:
    lock = parse_lockfile("r.txt", f"--require-hashes\nnumpy==1.0 --hash={H}\n")
    assert [(p.name, p.line) for p in lock.packages] == [("numpy", 2)]


def test_requirements_url_requirement_names_its_url() -> None:
    url = "https://example.test/wheels/tiny-1.0-py3-none-any.whl"
    (tiny,) = parse_lockfile("r.txt", f"tiny @ {url} --hash={H}\n").packages
    assert (tiny.specifier, tiny.url, tiny.version, tiny.hashes) == (f"@ {url}", url, None, (H,))
    assert tiny.source == f"url+{url}"


def test_requirements_direct_references_say_where_from() -> None:
    """A git reference carries its commit (as uv.lock's git sources do), a local wheel its
    path: the AIBOM names where the package came from, not PyPI. A plain pin has no source."""
    commit = "a" * 40
    lock = parse_lockfile("r.txt", (
        f"kit @ git+https://ci:t0ken@github.com/acme/kit.git@{commit}#egg=kit\n"
        "wheel-here @ file:///opt/wheels/wheel_here-1.0-py3-none-any.whl\n"
        "wheel-there @ file://localhost/opt/wheels/wheel_there-1.0-py3-none-any.whl\n"
        "ssh-kit @ git+ssh://git@github.com/acme/ssh-kit.git@v1\n"
        f"numpy==1.0 --hash={H}\n"))
    assert [(p.name, p.source) for p in lock.packages] == [
        ("kit", f"git+https://github.com/acme/kit.git@{commit}"),  # the token left out
        ("wheel-here", "path+/opt/wheels/wheel_here-1.0-py3-none-any.whl"),
        ("wheel-there", "path+/opt/wheels/wheel_there-1.0-py3-none-any.whl"),
        ("ssh-kit", "git+ssh://git@github.com/acme/ssh-kit.git@v1"),
        ("numpy", "")]
    from engine.bom.refs import package_purl

    kit = lock.packages[0]
    assert package_purl("pypi", kit.name, kit.version, kit.url, source=kit.source) == (
        f"pkg:pypi/kit?vcs_url=git%2Bhttps://github.com/acme/kit.git%40{commit}")


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("numpy==1.0\n-r\n", 2, "-r needs a file name"),
    ("numpy==1.0\n--requirement\n", 2, "--requirement needs a file name"),
    ("-r a.txt b.txt\n", 1, "-r takes one file name"),
    ("\n-r https://example.test/base.txt\n", 2, "not from a URL"),
    ("--requirements base.txt\n", 1, "unknown pip option --requirements"),
    ("numpy==1.0\n-c constraints.txt\n", 2, "-c is not allowed"),
    ("numpy==1.0\n--constraint=constraints.txt\n", 2, "--constraint is not allowed"),
    ("numpy==1.0\n-e ./src\n", 2, "-e is not allowed"),
    ("numpy==1.0 --hash=sha256:" + "A" * 64 + "\n", 1, "malformed --hash"),
    ("numpy==1.0 --hash=sha256:abc\n", 1, "sha256 needs 64 lowercase hex digits"),
    ("numpy==1.0 --hash=md5:" + "a" * 32 + "\n", 1, "unsupported algorithm 'md5'"),
    ("numpy==1.0 \\\n  --hash=" + H + " \\\n  --hash=sha512:00\n", 1, "sha512 needs 128"),
])
def test_requirements_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    error = _raises("env/serve.txt", text)
    assert error.line == line, error
    assert fragment in error.message, error.message


def test_a_conda_file_read_as_requirements_says_so() -> None:
    from engine.catalog.lockfiles import parse_requirements_file

    with pytest.raises(InputError) as caught:
        parse_requirements_file("env/base.txt", f"# platform: linux-64\n@EXPLICIT\n{PKG}\n")
    assert caught.value.line == 2
    assert "conda explicit file" in caught.value.message


# -- pylock.toml: the new fields ----------------------------------------------------------

PYLOCK = f"""lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "torch"
version = "2.5.1"
wheels = [
  {{ name = "torch-2.5.1-cp311-none-macosx_11_0_arm64.whl", url = "https://example.test/torch-2.5.1-cp311-none-macosx_11_0_arm64.whl", hashes = {{ sha256 = "{'a' * 64}" }} }},
  {{ name = "torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl", url = "https://example.test/torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl", hashes = {{ sha256 = "{'b' * 64}" }} }},
]

[[packages]]
name = "jinja2"
version = "3.1.4"
sdist = {{ name = "jinja2-3.1.4.tar.gz", url = "https://example.test/jinja2-3.1.4.tar.gz", hashes = {{ sha256 = "{'c' * 64}", sha512 = "{'d' * 128}" }} }}

[[packages]]
name = "tools"
directory = {{ path = "./tools" }}
"""


def test_pylock_fills_ecosystem_and_the_url_of_the_first_artifact() -> None:
    torch, jinja2, tools = parse_lockfile("pylock.toml", PYLOCK).packages
    assert torch.url == "https://example.test/torch-2.5.1-cp311-none-macosx_11_0_arm64.whl"
    assert torch.hashes == ("sha256:" + "a" * 64, "sha256:" + "b" * 64)
    assert jinja2.url == "https://example.test/jinja2-3.1.4.tar.gz"
    assert jinja2.hashes == ("sha256:" + "c" * 64, "sha512:" + "d" * 128)
    assert (tools.url, tools.hashes, tools.version) == ("", (), None)
    assert {(p.ecosystem, p.build, p.path) for p in (torch, jinja2, tools)} == {
        ("pypi", "", "")}


@pytest.mark.parametrize(("bad", "fragment"), [
    ('hashes = { sha256 = "abc" }', "sha256 needs 64 lowercase hex digits"),
    (f'hashes = {{ blake2b = "{"a" * 64}" }}', "unsupported algorithm 'blake2b'"),
    ('hashes = "sha256"', "hashes must be a table"),
])
def test_pylock_malformed_hash_names_the_package_line(bad: str, fragment: str) -> None:
    text = ('lock-version = "1.0"\n\n[[packages]]\nname = "ok"\n\n[[packages]]\nname = "x"\n'
            f'sdist = {{ url = "https://example.test/x.tar.gz", {bad} }}\n')
    error = _raises("pylock.toml", text)
    assert error.line == 6
    assert fragment in error.message


def test_an_invalid_requirement_is_reported_on_one_line() -> None:
    error = _raises("env/serve.txt", f"numpy==1.0 --hash={H}\nnumpy=2.1.0\n")
    assert error.line == 2
    assert error.message.startswith("invalid requirement 'numpy=2.1.0': ")
    assert "\n" not in str(error)
