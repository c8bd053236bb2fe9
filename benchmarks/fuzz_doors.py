"""Many more hostile inputs than the suite feeds (issue 25): every door of ``tests/fuzzing.py``, each in a fresh process.

``python -m benchmarks.fuzz_doors [--examples 300] [--seed 0]``

Prints per door: examples tried, worst seconds for one example, worst extra peak memory (MB above what the imports
took) and the failures (exceptions other than the library's typed errors). Exit status 1 when any door failed or
passed the issue's bound of 300 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOORS = ("images", "volumes", "dicom", "models", "batch")
MAX_EXTRA_MB = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_doors", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    bad = 0
    print(f"{'door':<9}{'examples':>9}{'worst s':>9}{'worst MB':>10}  failures")
    for door in DOORS:
        done = subprocess.run(
            [sys.executable, "-m", "tests.fuzzing", door, "--examples", str(args.examples), "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if done.returncode != 0:
            print(
                f"{door:<9} crashed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
            )
            bad += 1
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{door:<9}{figures['examples']:>9}{figures['worst_seconds']:>9.2f}{figures['worst_extra_mb']:>10.0f}"
            f"  {len(figures['failures'])}"
        )
        for failure in figures["failures"][:5]:
            print(f"    {failure}")
        bad += bool(figures["failures"]) or figures["worst_extra_mb"] > MAX_EXTRA_MB
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
