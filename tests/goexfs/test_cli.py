"""goex-fs end to end, as a separate process: exit codes, JSON, policy, the model, the journal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from goexfs.backends import BACKENDS
from tests.fake_llm import FakeLLM
from tests.goexfs.conftest import snapshot

SECRET = "cli-secret-value-0123456789"


def goex_fs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goexfs.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def run_json(project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = goex_fs("run", "--dir", str(project), "--format", "json", *args)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_rollback_exits_3_and_changes_nothing(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    proc = goex_fs("run", "--dir", str(project), "--cmd", "rm src/app.py", "--decide", "rollback")
    assert proc.returncode == 3, proc.stderr
    assert "deleted" in proc.stdout and "src/app.py" in proc.stdout
    assert "-print('hello')" in proc.stdout  # the diff
    assert "rolled back" in proc.stdout
    assert snapshot(project) == before


def test_commit_exits_0_and_applies(project: Path, bwrap: str) -> None:
    proc = goex_fs(
        "run", "--dir", str(project), "--cmd", "echo bye >> README.md", "--decide", "commit"
    )
    assert proc.returncode == 0, proc.stderr
    assert (project / "README.md").read_text() == "# demo\nbye\n"
    assert "committed" in proc.stdout


def test_json_report(project: Path, bwrap: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("GOEX_SECRET_CLI", SECRET)
    code, report = run_json(
        project,
        "--cmd",
        'echo "$GOEX_SECRET_CLI"; mkdir new && echo x > new/f.txt; exit 2',
        "--decide",
        "commit",
    )
    assert code == 5  # a command that failed is kept for a person, not committed
    assert {"id", "status", "target", "command", "exit_status", "output", "changes"} <= set(report)
    assert report["status"] == "staged"
    assert not (project / "new").exists()
    assert report["target"] == str(project)
    assert report["exit_status"] == 2
    assert report["output"]["stdout"].strip() == "[REDACTED:GOEX_SECRET_CLI]"
    assert [(c["path"], c["kind"]) for c in report["changes"]] == [
        ("new", "added"),
        ("new/f.txt", "added"),
    ]
    # the interface of issue 5
    assert report["backend"] in BACKENDS[1:] and report["exit_code"] == 2  # what auto picked
    assert report["stdout"].strip() == "[REDACTED:GOEX_SECRET_CLI]" and report["stderr"] == ""
    assert report["changes"][1] | {"type": "file"} == report["changes"][1]
    assert {k: report["changes"][1][k] for k in ("old_mode", "new_mode", "size", "binary")} == {
        "old_mode": None,
        "new_mode": "0644",
        "size": 2,
        "binary": False,
    }
    assert [v["rule"] for v in report["violations"]] == ["fs.command-failed"]
    assert report["decision"]["verdict"] == "keep" and report["decision"]["by"] == "policy"
    assert report["decision"]["digest"] == report["digest"]


def test_json_change_kinds(project: Path, bwrap: str) -> None:
    code, report = run_json(
        project,
        "--cmd",
        "chmod 700 run.sh; rm link-to-readme; ln -s src link-to-readme; rm -r src; echo > src",
        "--decide",
        "rollback",
    )
    assert code == 3
    kinds = {c["path"]: c["kind"] for c in report["changes"]}
    assert kinds == {
        "run.sh": "mode_changed",
        "link-to-readme": "symlink_changed",
        "src": "type_changed",
        "src/app.py": "deleted",
        "src/old.txt": "deleted",
    }
    mode = next(c for c in report["changes"] if c["path"] == "run.sh")
    assert (mode["old_mode"], mode["new_mode"]) == ("0755", "0700")


def test_policy_rejection_exits_4(project: Path, bwrap: str) -> None:
    before = snapshot(project)
    code, report = run_json(
        project, "--cmd", "echo TOKEN=abc > .env; echo ok > fine.txt", "--decide", "commit"
    )
    assert code == 4
    assert report["status"] == "rejected"
    assert [v["rule"] for v in report["violations"]] == ["fs.denied-path"]
    assert snapshot(project) == before


def test_policy_file_and_decide_policy(project: Path, tmp_path: Path, bwrap: str) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[policy]\nallow_file_deletes = false\n")
    code, report = run_json(
        project, "--cmd", "rm src/old.txt", "--decide", "policy", "--policy", str(policy)
    )
    assert code == 4 and report["violations"][0]["rule"] == "fs.deletes"
    assert (project / "src" / "old.txt").exists()
    code, report = run_json(project, "--cmd", "touch ok.txt", "--decide", "policy")
    assert code == 0 and (project / "ok.txt").exists()


def test_ask_without_a_terminal_rolls_back(project: Path, bwrap: str) -> None:
    code, report = run_json(project, "--cmd", "touch x")
    assert code == 3
    assert report["decision"]["by"] == "no-terminal"
    assert not (project / "x").exists()


def test_timeout_flag(project: Path, bwrap: str) -> None:
    proc = goex_fs("run", "--dir", str(project), "--cmd", "sleep 20", "--timeout", "0.5")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the command did not finish within 0.5s")


def test_usage_errors(project: Path) -> None:
    proc = goex_fs("run", "--dir", str(project))
    assert proc.returncode == 2
    assert "error: give a PROMPT" in proc.stderr
    proc = goex_fs("run", "--dir", str(project / "missing"), "--cmd", "true")
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_prompt_goes_to_the_model(project: Path, bwrap: str, fake_llm: FakeLLM) -> None:
    (project / ".env").write_text("API_KEY=very-secret-key-value\n")
    fake_llm.reply("Here you go:\n```sh\necho 'from the model' > model.txt\n```\n")
    code, report = run_json(project, "write a file called model.txt", "--decide", "commit")
    assert code == 0, report
    assert report["prompt"] == "write a file called model.txt"
    assert report["command"] == "echo 'from the model' > model.txt"
    assert (project / "model.txt").read_text() == "from the model\n"
    sent = json.dumps(fake_llm.requests[0].json)
    assert "README.md" in sent and "write a file called model.txt" in sent
    assert "very-secret-key-value" not in sent


def test_journal_commands(project: Path, bwrap: str) -> None:
    code, report = run_json(project, "--cmd", "touch logged.txt", "--decide", "rollback")
    assert code == 3
    log = goex_fs("log", "--format", "json", cwd=project)
    assert log.returncode == 0, log.stderr
    assert [a["id"] for a in json.loads(log.stdout)] == [report["id"]]
    show = goex_fs("show", report["id"], "--format", "json", cwd=project)
    shown = json.loads(show.stdout)
    assert shown["status"] == "rolled_back"
    assert shown["effects"]["changes"][0]["path"] == "logged.txt"


def test_journal_lives_in_the_project_without_goex_home(
    project: Path, bwrap: str, monkeypatch: Any
) -> None:
    monkeypatch.delenv("GOEX_HOME")
    code, report = run_json(project, "--cmd", "touch a.txt", "--decide", "commit")
    assert code == 0
    assert (project / ".goex" / "journal.sqlite3").is_file()
    assert [c["path"] for c in report["changes"]] == ["a.txt"]  # .goex is never a change
    code, report = run_json(
        project, "--cmd", "mkdir .goex; echo x > .goex/evil", "--decide", "commit"
    )
    assert code == 4 and not (project / ".goex" / "evil").exists()


def test_llm_judge_decides(project: Path, bwrap: str, fake_llm: FakeLLM) -> None:
    fake_llm.reply('```json\n{"verdict": "commit", "reason": "it adds the file asked for"}\n```')
    code, report = run_json(project, "--cmd", "touch judged.txt", "--decide", "llm")
    assert code == 0, report
    assert report["decision"]["by"].startswith("llm:")
    assert report["decision"]["reason"] == "it adds the file asked for"
    assert (project / "judged.txt").exists()
    judged = json.dumps(fake_llm.requests[0].json)
    assert "judged.txt" in judged  # the judge saw the measured changes


def test_the_agent_cannot_rewrite_goex_toml_to_turn_the_sandbox_off(
    project: Path, bwrap: str
) -> None:
    """Found in review: a committed goex.toml with fs.sandbox = "none" disabled confinement."""
    before = snapshot(project)
    code, report = run_json(
        project,
        "--cmd",
        "printf '[fs]\\nsandbox = \"none\"\\n' > goex.toml",
        "--decide",
        "policy",
    )
    assert code == 4
    assert "fs.denied-path" in {v["rule"] for v in report["violations"]}
    assert snapshot(project) == before
    # Even if such a file got there (written by hand, or by a person who approved it), goex
    # refuses to take the sandbox setting from it.
    (project / "goex.toml").write_text('[fs]\nsandbox = "none"\n')
    proc = goex_fs("run", "--dir", str(project), "--cmd", "true", "--decide", "rollback")
    assert proc.returncode == 1
    assert "fs.sandbox may only be set in" in proc.stderr


def test_setuid_and_world_writable_modes_are_rejected(project: Path, bwrap: str) -> None:
    code, report = run_json(
        project,
        "--cmd",
        "cp /bin/true tool && chmod 4755 tool && echo x > open.txt && chmod 666 open.txt",
        "--decide",
        "policy",
    )
    assert code == 4
    flagged = [v["message"] for v in report["violations"] if v["rule"] == "fs.unsafe-mode"]
    assert len(flagged) == 2
    assert not (project / "tool").exists()


def test_host_password_hashes_are_not_readable_in_the_sandbox(project: Path, bwrap: str) -> None:
    code, report = run_json(
        project,
        "--cmd",
        "cat /etc/shadow 2>/dev/null | wc -c; ls -A /root | wc -l",
        "--decide",
        "rollback",
    )
    assert code == 3
    assert report["output"]["stdout"].split() == ["0", "0"]


CONNECT = (
    "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', {port}), 2); "
    "s.sendall(b'hi')\""
)


def test_network_only_with_the_flag(project: Path, bwrap: str) -> None:
    """A listener on the host's loopback: unreachable from the sandbox, reached with --network."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        command = CONNECT.format(port=server.getsockname()[1])
        closed = goex_fs("run", "--dir", str(project), "--cmd", command, "--decide", "rollback")
        assert closed.returncode == 3 and "Connection refused" in closed.stdout + closed.stderr
        opened = goex_fs(
            "run", "--dir", str(project), "--cmd", command, "--decide", "rollback", "--network"
        )
        assert opened.returncode == 3, opened.stderr
        connection, _ = server.accept()
        with connection:
            assert connection.recv(2) == b"hi"


def test_a_project_file_cannot_turn_the_network_on(project: Path, bwrap: str) -> None:
    (project / "goex.toml").write_text("[fs]\nnetwork = true\n", encoding="utf-8")
    proc = goex_fs("run", "--dir", str(project), "--cmd", "true", "--decide", "rollback")
    assert proc.returncode == 1 and "may only be set" in proc.stderr


def test_unsandboxed_says_what_protection_is_lost(project: Path) -> None:
    before = snapshot(project)
    proc = goex_fs(
        "run", "--dir", str(project), "--cmd", "echo new > added.txt", "--decide", "rollback",
        "--unsandboxed",
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "unsandboxed" in proc.stderr and "read your home" in proc.stderr
    assert "added.txt" in proc.stdout  # still staged, measured and reviewed
    assert snapshot(project) == before


def test_secret_files_are_hidden_and_listed_and_source_code_is_not(
    project: Path, bwrap: str, monkeypatch: Any
) -> None:
    (project / "core").mkdir()
    (project / "core" / "__init__.py").write_text("")
    (project / "core" / "secrets.py").write_text("NAME = 'module'\n")
    (project / ".env").write_text("TOKEN=do-not-read\n")
    (project / "config").mkdir()
    (project / "config" / "app.yaml").write_text("colour: plain-config-value\n")
    command = (
        "python3 -c 'import core.secrets as s; print(s.NAME)'; cat .env; cat config/app.yaml; "
        "echo ok > out.txt"
    )
    code, report = run_json(project, "--cmd", command, "--decide", "rollback")
    assert code == 3
    assert report["stdout"].startswith("module\n")  # source code named secrets.py runs
    assert "do-not-read" not in report["stdout"] and ".env" in report["stderr"]
    assert "plain-config-value" in report["stdout"]  # not a secret file by default
    assert report["hidden"] == [".env"]
    # the operator (not the project) hides more
    monkeypatch.setenv("GOEX_FS_SECRET_PATHS", "config/*.yaml")
    code, report = run_json(project, "--cmd", "cat config/app.yaml", "--decide", "rollback")
    assert "plain-config" not in report["stdout"] and report["hidden"] == [
        ".env",
        "config/app.yaml",
    ]
    shown = goex_fs("run", "--dir", str(project), "--cmd", "true", "--decide", "rollback")
    assert "hidden from the command (secret files): .env, config/app.yaml" in shown.stdout
