"""`balancer serve` against the CLI: the web page's preview and draw, each timed from the request
to the page that answers it, beside the command line doing the same work.

    python benchmarks/serve_bench.py                                  # 100,000 cases × 2,000 staff, 3 repeats
    python benchmarks/serve_bench.py --size 10000x200 --repeat 1 --results /tmp/serve.md   # quick check

A generated office (`benchmarks/generate.py`) is kept on the server (`balancer serve --scenarios`)
and a real server runs in a subprocess (`python -m balancer serve`, one worker as the command
starts it). A client signs in and, for each repeat, asks for the preview (the job's page polled
every 0.1 s until it shows the preview) and for a draw (polled until the run's page). The
command line, each a fresh process with the interpreter's start included:

- **preview**: the web page loads the scenario, solves it (balance and one lottery) and renders
  the preview, recording and writing nothing. No command does exactly that, so the CLI's side
  is a fresh process that loads and solves the scenario (`balancer.scenario.load_scenario` and
  `balancer.pipeline.solve`, what `balancer run` does before it records and writes);
- **draw**: `balancer run SCENARIO --format xlsx --reason …` (the web page's draw writes the CSV
  tables and plan.xlsx, and records the draw in its register, a re-draw after the first).

Medians of the repeats, in the same run. Writes its section of `results.md`.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import generate  # noqa: E402
from benchmarks.run import markdown_table, print_table, write_section  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
MARK = "## The web page against the CLI (serve_bench.py)"
HEAD = ["cases × staff", "step", "web s (median)", "CLI s (median)", "web / CLI", "CLI side"]
PASSWORD = "benchmark password"

SOLVE = r"""
import sys
from balancer.pipeline import solve
from balancer.scenario import load_scenario
solve(load_scenario(sys.argv[1]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data: Path, shelf: Path) -> tuple[subprocess.Popen, str]:
    """`balancer serve` on a free loopback port, with a planner and a clerk; its process and URL."""
    for name, role in (("paula", "planner"), ("clara", "clerk")):
        subprocess.run([sys.executable, "-m", "balancer", "users", "add", name, "--role", role, "--data", str(data)],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "balancer", "serve", "--port", str(port), "--data", str(data),
                               "--scenarios", str(shelf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/signin").status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def _client(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url, follow_redirects=False, timeout=600)
    signed = c.post("/signin", data={"csrf": _token(c, "/signin"), "name": user, "password": PASSWORD})
    assert signed.status_code == 303 and signed.headers["location"] == "/", signed.text[:300]
    return c


def _token(c: httpx.Client, page: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(page).text).group(1)


def _until_done(c: httpx.Client, answer: httpx.Response) -> httpx.Response:
    """The page a job finally answers with (its page polled every 0.1 s)."""
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/"), answer.text[:300]
    while 'id="working"' in (page := c.get(answer.headers["location"])).text:
        time.sleep(0.1)
    return page


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def one(n_cases: int, n_staff: int, repeat: int) -> list[list[str]]:
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        tmp = Path(tmp)
        scenario = generate(tmp / "office", n_cases, n_staff, seed=0)
        server, url = _serve(tmp / "data", tmp / "office")
        try:
            planner, clerk = _client(url, "paula"), _client(url, "clara")
            picked = planner.post("/pick", data={"csrf": _token(planner), "file": scenario.name})
            sid = picked.headers["location"].rsplit("/", 1)[1]

            def preview():
                page = _until_done(planner, planner.get(f"/scenarios/{sid}/preview"))
                assert "Balance targets" in page.text, page.text[:500]

            def draw():
                page = _until_done(clerk, clerk.post(f"/scenarios/{sid}/draw",
                                                     data={"csrf": _token(clerk), "reason": "benchmark"}))
                assert page.status_code == 303 and page.headers["location"].startswith("/runs/"), page.text[:500]

            def cli_solve():
                subprocess.run([sys.executable, "-c", SOLVE, str(scenario)], check=True, capture_output=True)

            def cli_run(k=iter(range(10**6))):
                subprocess.run([sys.executable, "-m", "balancer", "run", str(scenario), "--out", str(tmp / f"cli-{next(k)}"),
                                "--format", "xlsx", "--register", str(tmp / "cli-register.sqlite"),
                                "--reason", "benchmark", "-q"], check=True, capture_output=True)

            times = {name: [] for name in ("preview", "draw", "cli_solve", "cli_run")}
            for _ in range(repeat):  # interleaved: each pair sees the same machine
                for name, work in (("preview", preview), ("cli_solve", cli_solve), ("draw", draw), ("cli_run", cli_run)):
                    times[name].append(_timed(work))
        finally:
            server.terminate()
            server.wait(timeout=30)
    size = f"{n_cases:,} × {n_staff:,}"
    rows = []
    for step, web, cli, side in (("preview", "preview", "cli_solve", "load and solve, a fresh process"),
                                 ("draw", "draw", "cli_run", "`balancer run --format xlsx`")):
        w, c = statistics.median(times[web]), statistics.median(times[cli])
        rows.append([size, step, f"{w:.1f}", f"{c:.1f}", f"{w / c:.2f}×", side])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100000x2000", help="CASESxSTAFF (default: 100000x2000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = one(*map(int, args.size.split("x")), args.repeat)
    print_table("The web page against the CLI (medians, seconds)", HEAD, rows)
    write_section(args.results, "<!-- serve_bench: start -->", "<!-- serve_bench: end -->",
                  f"{MARK}\n\nA real `balancer serve` in a subprocess; each web time runs from the request to "
                  "the page that answers it (the job's page polled every 0.1 s). The CLI's side is a fresh "
                  f"process, interpreter start included. Medians of {args.repeat}, on {os.cpu_count()} cores, "
                  "web and CLI interleaved. Target: web within 2× the CLI.\n\n" + markdown_table(HEAD, rows))


if __name__ == "__main__":
    main()
