"""The sandbox: commands run against the staged copy, and nothing else is reachable (invariant 2).

Every test here runs real bubblewrap against a real directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from core.action import Status
from core.config import Config
from core.errors import ConfigError, SandboxError
from core.journal import Journal
from core.redact import Redactor
from core.secrets import SecretStore
from goexfs.backends import CopyStager
from goexfs.sandbox import bwrap as sandbox
from goexfs.sandbox.bwrap import bwrap_argv, run_command
from goexfs.sandbox.toolchains import readable_paths
from goexfs.session import stage
from goexfs.tree.effects import Change, ChangeKind
from tests.goexfs.conftest import Runner, python_read_paths, sandboxed_python, snapshot
from tests.goexfs.test_cli import goex_fs

SECRET = "s3cr3t-value-for-the-sandbox-test"


def kinds(changes: Sequence[Change]) -> dict[str, str]:
    return {c.path: c.kind.value for c in changes}


def test_absolute_path_of_the_project_writes_the_staged_copy(
    project: Path, run_cmd: Runner
) -> None:
    before = snapshot(project)
    run = run_cmd(f"echo pwned > {project}/abs.txt && cat {project}/README.md")
    assert snapshot(project) == before
    assert kinds(run.changes) == {"abs.txt": "added"}
    assert (run.staging.view / "abs.txt").read_text() == "pwned\n"
    assert "# demo" in run.result.stdout


def test_cd_dotdot_cannot_escape(project: Path, run_cmd: Runner) -> None:
    parent_before = sorted(os.listdir(project.parent))
    run = run_cmd("cd .. && touch escape; cd / && touch /escape-root; echo done")
    assert sorted(os.listdir(project.parent)) == parent_before
    assert not Path("/escape-root").exists()
    assert run.changes == []
    assert run.result.exit_status == 0


def test_rm_rf_of_the_real_project_only_empties_the_staged_copy(
    project: Path, run_cmd: Runner
) -> None:
    before = snapshot(project)
    run = run_cmd(f"rm -rf {project} ; rm -rf {project}/* {project}/.[!.]* ; true")
    assert snapshot(project) == before
    assert {c.kind for c in run.changes} == {ChangeKind.DELETED}
    assert {c.path for c in run.changes} == set(before)


def test_the_rest_of_the_filesystem_is_read_only(
    project: Path, outside: Path, run_cmd: Runner
) -> None:
    before = snapshot(outside)
    run = run_cmd(
        f"echo x > {outside}/new.txt; echo x >> {outside}/precious.txt; rm -f {outside}/*; "
        f"mount -o remount,rw / ; umount {project}; echo x > {outside}/after-umount; "
        "echo y > /etc/goex-test; exit 0"
    )
    assert snapshot(outside) == before
    assert not Path("/etc/goex-test").exists()
    assert "Read-only file system" in run.result.stderr
    assert run.changes == []


def test_symlink_out_of_the_staged_tree_is_not_written_through(
    project: Path, outside: Path, run_cmd: Runner
) -> None:
    before = snapshot(outside)
    run = run_cmd(f"ln -s {outside} out && echo pwned > out/pwned.txt; echo x > out/precious.txt")
    assert snapshot(outside) == before
    assert kinds(run.changes) == {"out": "added"}
    assert any(v.rule == "fs.symlink-outside" for v in run.violations)


def test_home_and_goex_state_are_hidden(
    project: Path, run_cmd: Runner, isolated_environment: dict[str, Path]
) -> None:
    config_dir = isolated_environment["XDG_CONFIG_HOME"] / "goex"
    config_dir.mkdir()
    (config_dir / "secrets.toml").write_text('token = "never-visible-in-sandbox"\n')
    (config_dir / "secrets.toml").chmod(0o600)
    home_file = isolated_environment["HOME"] / "id_rsa"
    home_file.write_text("private")
    run = run_cmd(
        f"cat {config_dir}/secrets.toml {home_file} 2>&1; echo HOME=$HOME; ls /tmp | wc -l"
    )
    assert "never-visible" not in run.result.stdout
    assert "private" not in run.result.stdout
    assert "HOME=/tmp" in run.result.stdout


def test_secret_is_in_the_environment_but_masked_in_output(
    project: Path, run_cmd: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOEX_SECRET_API_TOKEN", SECRET)
    monkeypatch.setenv("UNRELATED_VARIABLE", "should-not-pass")
    run = run_cmd(
        'echo "token=$GOEX_SECRET_API_TOKEN"; echo "$GOEX_SECRET_API_TOKEN" >&2; '
        'printf %s "$GOEX_SECRET_API_TOKEN" > token.txt; echo "u=${UNRELATED_VARIABLE:-unset}"',
        secrets=SecretStore.load(),
    )
    assert (run.staging.view / "token.txt").read_text() == SECRET  # the command had the value
    assert SECRET not in run.result.stdout + run.result.stderr
    assert "[REDACTED:GOEX_SECRET_API_TOKEN]" in run.result.stdout
    assert "[REDACTED:GOEX_SECRET_API_TOKEN]" in run.result.stderr
    assert "u=unset" in run.result.stdout
    assert SECRET not in str(run.recorded)  # neither in the journaled effects (diff included)


def test_no_network(run_cmd: Runner) -> None:
    run = run_cmd("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '")
    assert run.result.stdout.split() == ["lo"]


def test_non_zero_exit_is_still_measured(run_cmd: Runner) -> None:
    run = run_cmd("echo partial > half.txt; exit 7")
    assert run.result.exit_status == 7
    assert kinds(run.changes) == {"half.txt": "added"}
    assert run.recorded["exit_status"] == 7
    assert run.action.status is Status.STAGED


def test_output_is_bounded(run_cmd: Runner) -> None:
    run = run_cmd("head -c 300000 /dev/zero | tr '\\0' a")
    assert run.result.truncated
    assert len(run.result.stdout) < 70_000
    assert "more bytes of output not kept" in run.result.stdout


def test_timeout_kills_and_fails_the_action(
    project: Path, journal: Journal, run_cmd: Runner, fs_config: Config
) -> None:
    config = replace(fs_config, fs=replace(fs_config.fs, timeout=1.0))
    before = snapshot(project)
    with pytest.raises(SandboxError, match="did not finish within 1s"):
        run_cmd("echo x > during.txt; sleep 30", config=config)
    assert snapshot(project) == before
    action = journal.recent(limit=1)[0]
    assert action.status is Status.FAILED
    assert not list((project / ".goex" / "staged").iterdir())


def test_missing_bwrap_is_a_clear_error(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    with pytest.raises(SandboxError, match="install it"):
        run_command(
            "true",
            root=project,
            tree=tmp_path,
            mode="bwrap",
            timeout=5,
            secrets=SecretStore(),
            redactor=Redactor(),
        )
    with pytest.raises(ConfigError, match="not one of"):
        run_command(
            "true",
            root=project,
            tree=tmp_path,
            mode="chroot",
            timeout=5,
            secrets=SecretStore(),
            redactor=Redactor(),
        )


def test_sandbox_setup_failure_is_reported(project: Path, tmp_path: Path, bwrap: str) -> None:
    with pytest.raises(SandboxError, match="could not set up the sandbox"):
        run_command(
            "true",
            root=project,
            tree=tmp_path / "does-not-exist",
            mode="bwrap",
            timeout=5,
            secrets=SecretStore(),
            redactor=Redactor(),
            bwrap=bwrap,
        )


def test_none_mode_runs_in_the_staged_copy(project: Path, tmp_path: Path) -> None:
    """Unconfined, but relative paths still land in the staged copy."""
    staged = CopyStager().stage(project, tmp_path / "work")
    result = run_command(
        "echo hi > rel.txt; pwd",
        root=project,
        tree=staged.tree,
        mode="none",
        timeout=10,
        secrets=SecretStore(),
        redactor=Redactor(),
    )
    assert result.sandbox == "none"
    assert not (project / "rel.txt").exists()
    assert (staged.view / "rel.txt").read_text() == "hi\n"
    staged.rollback()


def test_bwrap_argv_binds_the_staged_tree_last_over_the_root(tmp_path: Path) -> None:
    argv = bwrap_argv("bwrap", root=Path("/p/root"), tree=Path("/p/root/.goex/t"), command="ls")
    command = argv[argv.index("--") + 1 :]
    # goexfs.sandbox.limits' prologue runs the command
    assert command[:2] == ["/bin/sh", "-c"] and command[-2:] == ["sh", "ls"]
    bind = argv.index("--bind")
    assert argv[bind : bind + 3] == ["--bind", "/p/root/.goex/t", "/p/root"]
    assert bind > argv.index("--ro-bind")
    assert bind > max(i for i, a in enumerate(argv) if a == "--tmpfs")
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"


def test_project_inside_a_hidden_home(
    tmp_path: Path,
    journal: Journal,
    fs_config: Config,
    bwrap: str,
    isolated_environment: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home is hidden behind a tmpfs, yet a project inside it is there (as the staged copy)."""
    monkeypatch.setattr(sandbox, "FRESH", ())  # HOME is under /tmp in tests: hide it anyway
    home = isolated_environment["HOME"]
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("private key")
    root = home / "code" / "proj"
    root.mkdir(parents=True)
    (root / "main.c").write_text("int main;\n")
    assert home in sandbox.hidden_paths(root)
    assert home not in sandbox.hidden_paths(home)
    run = stage(
        root,
        f"cat {home}/.ssh/id_ed25519; ls {home}; cat main.c; echo x > {root}/out.txt",
        config=fs_config,
        secrets=SecretStore(),
        journal=journal,
        bwrap=bwrap,
    )
    assert "private key" not in run.result.stdout
    assert "int main;" in run.result.stdout
    assert [c.path for c in run.changes] == ["out.txt"]
    run.staging.rollback()


CHURN = """
while :; do
  mkdir -p "$1/lower" "$1/upper" "$1/work" "$1/tree"
  mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/tree"
  umount -l "$1/tree"
  rm -rf "$1"
done
"""


def test_mounts_coming_and_going_elsewhere_do_not_fail_the_sandbox(
    project: Path, tmp_path: Path, bwrap: str
) -> None:
    """bubblewrap copies every mount of / read-only; another goex unmounting its staged overlay
    meanwhile made that fail ("Can't bind mount /oldroot/ ... Unable to apply mount flags"),
    about one set-up in two hundred here. The command had not started, so goex sets the sandbox
    up again. Three shells mount and unmount overlays as fast as they can while 100 commands
    run (without the retry, one of the first few dozen fails here)."""
    churners = [
        subprocess.Popen(
            ["sh", "-c", CHURN, "churn", str(tmp_path / f"churn{i}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(3)
    ]
    tree = tmp_path / "tree"
    tree.mkdir()
    try:
        for i in range(100):
            result = run_command(
                f"echo {i}",
                root=project,
                tree=tree,
                mode="bwrap",
                timeout=30,
                secrets=SecretStore(),
                redactor=Redactor(),
            )
            assert (result.exit_status, result.stdout) == (0, f"{i}\n")
    finally:
        for churner in churners:
            os.killpg(churner.pid, signal.SIGKILL)
            churner.wait()
        for i in range(3):
            subprocess.run(["umount", "-l", str(tmp_path / f"churn{i}" / "tree")],
                           capture_output=True, check=False)  # fmt: skip


def test_a_toolchain_outside_the_project_runs_read_only_and_nothing_else_of_home_shows(
    project: Path,
    journal: Journal,
    fs_config: Config,
    bwrap: str,
    isolated_environment: dict[str, Path],
) -> None:
    """``[fs] read_paths``: a virtualenv in the home directory (hidden, like /tmp) runs; it
    cannot be changed; the rest of the home directory stays hidden."""
    home = isolated_environment["HOME"]
    tool = home / ".venvs" / "app" / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool ran\n")
    tool.chmod(0o755)
    (home / ".netrc").write_text("machine x password hunter2\n")
    config = replace(fs_config, fs=replace(fs_config.fs, read_paths=("~/.venvs/app", "~/none")))
    run = stage(
        project,
        f"{tool} > out.txt; echo x > {tool}; cat {home}/.netrc; ls {home}; exit 0",
        config=config,
        secrets=SecretStore(),
        journal=journal,
        bwrap=bwrap,
    )
    assert (run.staging.view / "out.txt").read_text() == "tool ran\n"
    assert tool.read_text() == "#!/bin/sh\necho tool ran\n"
    assert "Read-only file system" in run.result.stderr
    assert "hunter2" not in run.result.stdout
    assert ".netrc" not in run.result.stdout


@pytest.mark.parametrize("path", ["~", "/", "{state}", "{config}/.."])
def test_a_read_path_that_would_show_what_the_sandbox_hides_is_refused(
    project: Path,
    journal: Journal,
    fs_config: Config,
    bwrap: str,
    isolated_environment: dict[str, Path],
    path: str,
) -> None:
    named = path.format(
        state=isolated_environment["GOEX_HOME"],
        config=isolated_environment["XDG_CONFIG_HOME"] / "goex",
    )
    config = replace(fs_config, fs=replace(fs_config.fs, read_paths=(named,)))
    before = snapshot(project)
    with pytest.raises(ConfigError, match="read_paths"):
        stage(
            project,
            "echo x > x.txt",
            config=config,
            secrets=SecretStore(),
            journal=journal,
            bwrap=bwrap,
        )
    assert snapshot(project) == before


def test_a_read_path_holding_the_home_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/home`` holds every user's home: naming it would show this one's whole."""
    home = tmp_path / "homes" / "user"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ConfigError, match="a home directory whole"):
        readable_paths([str(tmp_path / "homes")], tmp_path / "project")
    assert readable_paths([str(home / ".pyenv")], tmp_path / "project") == []  # missing: skipped


def test_the_projects_own_tests_pass_inside_the_sandbox(
    tmp_path: Path, bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """goex itself as the project: a subset of its own tests, run by goex-fs run in the
    sandbox, passes — core/secrets.py is source code, not a secret file to hide."""
    checkout = Path(__file__).resolve().parents[2]
    project = tmp_path / "goex-copy"
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for part in ("core", "goexfs", "goexdb", "tests"):
        shutil.copytree(checkout / part, project / part, ignore=junk)
    shutil.copy(checkout / "pyproject.toml", project)
    monkeypatch.setenv("GOEX_FS_READ_PATHS", ",".join(python_read_paths()))
    tests = "tests/core/test_secrets.py tests/goexfs/test_paths.py"
    # not the test that gives a file to another uid: the sandbox maps one uid only
    only = "-k 'not someone_else'"
    command = sandboxed_python(f"-m pytest -q -p no:cacheprovider -p no:randomly {only} {tests}")
    proc = goex_fs(
        "run", "--dir", str(project), "--cmd", command, "--decide", "rollback", "--format", "json"
    )
    report = json.loads(proc.stdout)
    output = report["output"]
    assert report["exit_status"] == 0, output["stdout"][-3000:] + output["stderr"][-2000:]
    assert re.search(r"\b\d{2,} passed\b", output["stdout"]), output["stdout"][-2000:]
    assert "core/secrets.py" not in json.dumps(report["hidden"])
