"""Serve a whole class: N Streamlit replicas behind HAProxy, with cookie stickiness, health checks and websockets.

``python -m scse_viz.serve [--replicas N] [--port 8501] [--address 0.0.0.0] [--threads T]`` starts N processes of
``streamlit run app.py`` on loopback ports, each with T torch threads (default: the cores divided among the
replicas), and Debian's ``haproxy`` in front of them on ``--address:--port``. It prints the address, waits, and on
Ctrl-C (SIGINT) or SIGTERM stops HAProxy and every replica. Why each setting:

- Streamlit keeps a session, its uploads and its media in one process, so every request of a browser must reach
  the replica that holds its session: HAProxy inserts a cookie (``scse_replica``) on the first response and routes
  by it. A replica that stops answering ``/_stcore/health`` is taken out; its people are sent to another replica
  (``option redispatch``), where the app tells them their uploads must be made again (it sees the cookie of the
  replica that served them before: ``SCSE_REPLICA`` in the environment names its own).
- The websocket (``/_stcore/stream``) is upgraded through HAProxy in HTTP mode; ``timeout tunnel`` keeps it open
  through a lecture.
- Uploads larger than the app's own ``server.maxUploadSize`` are refused at the balancer already (HTTP 413).
- Streamlit's XSRF protection stays on: the balancer passes the cookies through unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COOKIE = "scse_replica"  # which replica holds a browser's session
MOVED = "scse_moved"  # set by the balancer when a browser had to move: the replica it came from
HEALTH = "/_stcore/health"
STARTUP_TIMEOUT_S = 120


def upload_limit_mb(repo: Path = REPO) -> int:
    """The app's own upload limit (``.streamlit/config.toml``), which the balancer enforces too."""
    config = tomllib.loads((repo / ".streamlit" / "config.toml").read_text())
    return int(config.get("server", {}).get("maxUploadSize", 200))


def haproxy_config(address: str, port: int, backends: Sequence[int], upload_mb: int) -> str:
    """HAProxy's configuration for ``backends`` (loopback ports of the replicas), listening on address:port."""
    servers = "\n".join(
        f"    server r{i} 127.0.0.1:{p} check inter 1s fall 2 rise 2 cookie r{i}" for i, p in enumerate(backends, 1)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 600s
    timeout tunnel 4h
    timeout http-request 60s

frontend scse_lens
    bind {address}:{port}
    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {upload_mb * 1024 * 1024} }}
    default_backend replicas

backend replicas
    balance leastconn
    option redispatch
    retries 2
    cookie {COOKIE} insert nocache httponly
    option httpchk GET {HEALTH}
    http-check expect string ok
    # a browser whose replica is gone is redispatched; tell the app where it came from ({MOVED} = the old replica)
    http-request set-var(txn.had) req.cook({COOKIE})
    http-response set-var(txn.srv) srv_name
    acl had_replica var(txn.had) -m found
    acl same_replica var(txn.had),strcmp(txn.srv) eq 0
    http-response add-header Set-Cookie "{MOVED}=%[var(txn.had)]; Path=/; Max-Age=600; SameSite=Lax" if had_replica !same_replica
{servers}
"""


@dataclass
class Cluster:
    """The running processes of one ``serve`` call."""

    address: str
    port: int
    replica_ports: list[int]
    replicas: list[subprocess.Popen] = field(default_factory=list)
    balancer: subprocess.Popen | None = None
    workdir: Path | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in ("0.0.0.0", "") else self.address
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the balancer, then every replica (SIGTERM, then SIGKILL after ``timeout``)."""
        for process in [self.balancer, *self.replicas]:
            if process is not None and process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in [self.balancer, *self.replicas]:
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH, timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


def _wait(urls: Sequence[str], processes: Sequence[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    while waiting:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a process exited with code {process.returncode} while starting (see its log)")
        waiting = [u for u in waiting if not _healthy(u)]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {', '.join(waiting)} within {timeout:.0f} s")
        time.sleep(0.5)


def _replica_megabytes(replicas: int) -> float:
    """Each replica's share of 75 % of the machine's memory: what its sessions may hold together (ui.state)."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return 0.75 * physical / max(1, replicas)


def app_command(port: int) -> list[str]:
    """The command line of one app server on 127.0.0.1:``port`` (headless, no usage statistics), run from the
    repository root: the replicas, the benchmarks and the browser tests start the app the same way."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def start(
    replicas: int = 2,
    port: int = 8501,
    address: str = "0.0.0.0",
    threads: int | None = None,
    first_replica_port: int | None = None,
    logs: Path | None = None,
    haproxy: str = "haproxy",
) -> Cluster:
    """Start the replicas and the balancer; return when every replica and the front answer their health check."""
    binary = shutil.which(haproxy)
    if binary is None:
        raise SystemExit("haproxy is not installed: apt-get install -y haproxy")
    if replicas < 1:
        raise SystemExit("--replicas must be at least 1")
    threads = threads or max(1, (os.cpu_count() or 1) // replicas)
    base = first_replica_port or port + 1
    cluster = Cluster(address, port, [base + i for i in range(replicas)])
    cluster.workdir = Path(tempfile.mkdtemp(prefix="scse-serve-"))
    logs = logs or cluster.workdir
    logs.mkdir(parents=True, exist_ok=True)
    try:
        for i, replica_port in enumerate(cluster.replica_ports, 1):
            env = {
                **os.environ,
                "SCSE_REPLICA": f"r{i}",
                "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads),
                "PYTHONUNBUFFERED": "1",
            }
            env.setdefault("SCSE_REPLICA_MB", str(int(_replica_megabytes(replicas))))
            # glibc gives every thread that allocates its own arena and rarely hands freed pages back; Streamlit runs
            # each session's script in a thread of its own, so a replica's memory would ratchet up with churn.
            env.setdefault("MALLOC_ARENA_MAX", "2")
            log = (logs / f"replica-r{i}.log").open("w")
            cluster.replicas.append(
                subprocess.Popen(
                    app_command(replica_port),
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        _wait([f"http://127.0.0.1:{p}" for p in cluster.replica_ports], cluster.replicas, STARTUP_TIMEOUT_S)
        config = cluster.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(address, port, cluster.replica_ports, upload_limit_mb()))
        log = (logs / "haproxy.log").open("w")
        cluster.balancer = subprocess.Popen(
            [binary, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        _wait([cluster.url], [cluster.balancer], 30)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="Streamlit processes (default 2: one per core here)")
    parser.add_argument("--port", type=int, default=8501, help="where HAProxy listens (default 8501)")
    parser.add_argument("--address", default="0.0.0.0", help="where HAProxy listens (default all interfaces)")
    parser.add_argument("--threads", type=int, help="torch threads per replica (default: cores / replicas)")
    parser.add_argument("--first-replica-port", type=int, help="replicas listen on loopback from here (default port+1)")
    parser.add_argument("--logs", type=Path, help="folder for the replicas' and HAProxy's logs (default: a temp dir)")
    args = parser.parse_args(argv)
    cluster = start(args.replicas, args.port, args.address, args.threads, args.first_replica_port, args.logs)
    stop = {"now": False}

    def ask_to_stop(signum, frame) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    print(f"scSE Lens: {args.replicas} replicas behind HAProxy at {cluster.url} (Ctrl-C stops everything)", flush=True)
    try:
        while not stop["now"]:
            if cluster.balancer is not None and cluster.balancer.poll() is not None:
                print("HAProxy stopped; stopping the replicas", flush=True)
                break
            time.sleep(0.5)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
