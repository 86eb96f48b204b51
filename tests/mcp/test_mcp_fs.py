"""goex-mcp's file tools over stdio: a sandboxed command on a staged copy, some of its paths
committed by the decider, undone; the directory untouched until then."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import processes
from tests.mcp.conftest import call, refusal, run, stdio_client


@pytest.mark.needs("bwrap")
def test_fs_run_then_commit_some_paths_then_undo(project: Path, outside: Path) -> None:
    readme = (project / "README.md").read_text()

    async def scenario() -> None:
        async with stdio_client("-C", str(project)) as client:
            staged = await call(
                client,
                "fs_run",
                command="echo new > src/new.txt && echo more >> README.md && echo x > other.txt "
                f"&& (echo escape > {outside}/precious.txt; true)",
            )
            assert staged["exit_status"] == 0
            assert {c["path"] for c in staged["changes"]} == {
                "src/new.txt",
                "README.md",
                "other.txt",
            }
            assert "+more" in staged["diff"]
            assert not (project / "src" / "new.txt").exists()  # staged only
            one = await call(client, "fs_diff", handle=staged["handle"], path="README.md")
            assert "+more" in one["diff"] and "new.txt" not in one["diff"]
            outcome = await call(
                client, "fs_commit", handle=staged["handle"], paths=["src/new.txt", "README.md"]
            )
            assert outcome["status"] == "committed", outcome
            assert (project / "src" / "new.txt").read_text() == "new\n"
            assert (project / "README.md").read_text() == readme + "more\n"
            assert not (project / "other.txt").exists()
            assert "ended" in await refusal(client, "fs_diff", handle=staged["handle"])

            undone = await call(client, "undo", action_id=staged["action_id"])
            assert undone["outcome"]["status"] == "committed", undone
            assert not (project / "src" / "new.txt").exists()
            assert (project / "README.md").read_text() == readme
        assert (outside / "precious.txt").read_text() == "do not touch\n"

    run(scenario())


@pytest.mark.needs("bwrap")
def test_fs_rollback_and_unknown_handles(project: Path) -> None:
    async def scenario() -> None:
        async with stdio_client("-C", str(project)) as client:
            staged = await call(client, "fs_run", command="rm -r src && echo gone > README.md")
            assert staged["findings"], "a deletion is a finding"
            rolled = await call(client, "fs_rollback", handle=staged["handle"])
            assert rolled["status"] == "rolled_back"
            assert "no fs handle" in await refusal(client, "fs_commit", handle="fs_guess")
            assert "no fs handle" in await refusal(
                client, "fs_commit", handle=staged["handle"][:-1]
            )
        assert (project / "src" / "app.py").read_text() == "print('hello')\n"
        assert (project / "README.md").read_text() == "# demo\n"

    run(scenario())


@pytest.mark.needs("bwrap")
def test_the_agents_paths_narrow_what_a_person_approves(project: Path) -> None:
    async def scenario() -> None:
        async with stdio_client("-C", str(project), "--commit", "person") as client:
            staged = await call(client, "fs_run", command="echo a > a.txt && echo b > b.txt")
            handle = staged["handle"]
            pending = await call(client, "fs_commit", handle=handle, paths=["a.txt"])
            assert pending["status"] == "pending", pending
            assert f"goex-fs approve {staged['action_id']}" in pending["how_to_decide"]
            approved = processes.run(
                "goexfs.cli", "approve", staged["action_id"], "-C", str(project)
            )
            assert approved.returncode == 0, approved.stderr
            processes.until(
                lambda: (project / "a.txt").exists(), what="the sweeper to carry it out"
            )
            outcome = await call(client, "fs_commit", handle=handle, paths=["a.txt"])
            assert outcome["status"] == "committed", outcome
        assert (project / "a.txt").read_text() == "a\n"
        assert not (project / "b.txt").exists()  # the agent asked for a.txt only
        shown = processes.shown("goexfs.cli", staged["action_id"], "-C", str(project))
        assert shown["status"] == "committed"

    run(scenario())
