"""`govops init` and the README followed from an empty folder (issue 17, acceptance 1): init,
then `govops check` passes, then the pre-commit hook from the README's own snippet (the file
init writes) blocks a bad commit, through the real pre-commit framework and git."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.commands.init import PRE_COMMIT, InitOptions, files
from tests.support.cli import assert_input_error, govops
from tests.support.repos import ROOT
from tests.support.resident import OPA_BINARY, stop_residents

BIN = Path(sys.executable).parent


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVOPS_", "GIT_"))}
    env.update({"PATH": f"{BIN}{os.pathsep}{OPA_BINARY.parent}{os.pathsep}{env['PATH']}",
                "GOVOPS_STATE_DIR": str(tmp_path / "state"), "GOVOPS_DAEMON": "0",
                "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
                "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
                "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
                "HOME": str(tmp_path / "home")})
    return env


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_the_readme_from_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "new-repo"
    folder.mkdir()
    env = _env(tmp_path)
    try:
        done = _run(env, folder, "govops", "init", "--no-input")
        assert done.returncode == 0, done.stderr
        assert "initialised a git repository" in done.stdout
        checked = _run(env, folder, "govops", "check", "--staged")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith("PASS staged changes: 0 denied, 0 warnings"), (
            checked.stdout)
        assert _run(env, folder, "git", "commit", "-q", "-m", "govops init").returncode == 0
        assert _run(env, folder, "govops", "check").returncode == 0

        # The pre-commit configuration is the README's snippet, word for word.
        readme = (ROOT / "README.md").read_text()
        assert f"```yaml\n{PRE_COMMIT}```" in readme
        assert (folder / ".pre-commit-config.yaml").read_text() == PRE_COMMIT
        pre_commit = shutil.which("pre-commit", path=str(BIN))
        assert pre_commit is not None
        installed = _run(env, folder, pre_commit, "install")
        assert installed.returncode == 0, installed.stderr

        model = folder / "models" / "example-model.yaml"
        model.write_text(model.read_text().replace("license: Apache-2.0",
                                                   "license: proprietary"))
        assert _run(env, folder, "git", "add", "models/example-model.yaml").returncode == 0
        head = _run(env, folder, "git", "rev-parse", "HEAD").stdout
        blocked = _run(env, folder, "git", "commit", "-m", "a model we may not ship")
        assert blocked.returncode != 0, blocked.stdout + blocked.stderr
        assert "govops check (staged changes)" in blocked.stdout + blocked.stderr
        assert "MDL-002" in blocked.stdout + blocked.stderr
        assert _run(env, folder, "git", "rev-parse", "HEAD").stdout == head  # no commit made
    finally:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GOVOPS_STATE_DIR", env["GOVOPS_STATE_DIR"])
            stop_residents()


def test_init_overwrites_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "govops.yaml").write_text("# ours\n")
    run = govops("init", "--no-input", str(folder))
    assert_input_error(run, f"{folder}: govops.yaml already exists")
    assert (folder / "govops.yaml").read_text() == "# ours\n"
    assert sorted(p.name for p in folder.iterdir()) == ["govops.yaml"]  # nothing else, no .git


@pytest.mark.parametrize(("args", "message"), [
    (("--team", "ML Platform"), "--team 'ML Platform': a lowercase name"),
    (("--cluster", "GPU_1"), "--cluster 'GPU_1': a lowercase name"),
    # The example stack must pass STK-003 at once: only a GPU type the library can size.
    (("--gpu-type", "nvidia-h100"), "--gpu-type 'nvidia-h100': not a GPU type the library "
                                    "can size (did you mean 'nvidia-h100-80gb'? known: "),
    (("--gpu-type", "tpu-v5e"), "--gpu-type 'tpu-v5e': not a GPU type the library can size "
                                "(known: nvidia-a100-40gb, "),
])
def test_bad_options_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    run = govops("init", "--no-input", str(tmp_path / "r"), *args)
    assert_input_error(run, message)
    assert not (tmp_path / "r").exists()  # nothing written


def test_every_yaml_file_names_its_schema() -> None:
    written = files(InitOptions(Path(".")))
    for path, text in written.items():
        if path.endswith(".yaml") and not path.startswith(".pre-commit"):
            first = text.splitlines()[0]
            match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
            assert match, (path, first)
            target = (Path(path).parent / match.group(1)).as_posix()
            assert os.path.normpath(target) in written, (path, target)


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str],
                   script: list[tuple[str, str]]) -> tuple[int, str]:
    """Run `args` on a pseudo-terminal, answering each prompt of `script` (text to wait for,
    line to type) in turn; the exit code and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command, its stdin a terminal
        os.chdir(cwd)
        os.execve(args[0], args, env)
    shown = ""
    answered = 0
    pending = list(script)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, f"no output for 60 s; the terminal showed:\n{shown}"
            try:
                chunk = os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending and pending[0][0] in shown[answered:]:
                os.write(fd, (pending.pop(0)[1] + "\n").encode())
                answered = len(shown)  # the next prompt must be shown after this answer
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # a child stuck at a prompt must not outlive the test
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert not pending, f"never asked {pending}; the terminal showed:\n{shown}"
    return os.waitstatus_to_exitcode(status), shown


def test_init_asks_on_a_terminal_and_asks_again_after_a_bad_answer(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    govops_bin = str(BIN / "govops")
    code, shown = _on_a_terminal(
        [govops_bin, "init", str(folder)], tmp_path, _env(tmp_path),
        [("Team that owns the models [ml-platform]:", "Vision Team"),
         ("Team that owns the models [ml-platform]:", "vision"),
         ("GPU type of your cluster [nvidia-a100-80gb]:", "nvidia-h100"),
         ("GPU type of your cluster [nvidia-a100-80gb]:", ""),  # the default
         ("Cluster name [gpu-cluster-1]:", "train-eu-1")])
    assert code == 0, shown
    assert "Error: a lowercase name of letters, digits and '-'" in shown
    assert "did you mean 'nvidia-h100-80gb'?" in shown
    stack = (folder / "stacks" / "example.yaml").read_text()
    assert "type: nvidia-a100-80gb" in stack and "train-eu-1" in stack
    assert "vision" in (folder / "models" / "example-model.yaml").read_text()
    checked = _run(_env(tmp_path), folder, govops_bin, "check", "--staged", "--engine", "opa")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_init_asks_nothing_when_not_on_a_terminal(tmp_path: Path) -> None:
    """CI pipes stdin: the defaults are taken, no prompt waits for an answer that never comes."""
    done = subprocess.run([str(BIN / "govops"), "init", str(tmp_path / "repo")],
                          env=_env(tmp_path), stdin=subprocess.PIPE, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "?" not in done.stdout and "[ml-platform]" not in done.stdout
    stack = tmp_path / "repo" / "stacks" / "example.yaml"
    assert "type: nvidia-a100-80gb" in stack.read_text()
