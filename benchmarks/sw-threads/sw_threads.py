"""`crosstrain data sw` with and without OMP_NUM_THREADS set by the environment (as on clusters):
the command places its workers and threads itself, so both should take the same time.

    python benchmarks/sw-threads/sw_threads.py [--omp 2]    # -> benchmarks/sw-threads/sw_threads.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "sw_threads.json"


def timed(env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "crosstrain.cli", "data", "sw", "--out", out],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--omp", default="2", help="OMP_NUM_THREADS for the second run")
    args = parser.parse_args()
    from crosstrain.provenance import provenance
    from crosstrain.records import command_line, make_record, write_record

    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    plain = timed(clean)
    omp = timed({**clean, "OMP_NUM_THREADS": args.omp})
    doc = {
        "benchmark": "sw_threads",
        "seconds_without": plain,
        f"seconds_with_OMP_NUM_THREADS_{args.omp}": omp,
        "ratio": omp / plain,
        **provenance().to_json(),
    }
    write_record(RESULTS, make_record("benchmark", command_line(), doc))
    print(
        f"data sw: {plain:.0f} s without OMP_NUM_THREADS, {omp:.0f} s with OMP_NUM_THREADS={args.omp} "
        f"(ratio {omp / plain:.2f})"
    )


if __name__ == "__main__":
    main()
