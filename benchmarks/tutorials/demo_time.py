"""How long the demo takes from a clean folder: ``crosstrain demo`` (or ``--dft``), run as a user
types it, timed, with the stage times and the headline it printed.

    python benchmarks/tutorials/demo_time.py [--dft] [--dir runs/demo-time]

The output folder is removed first (nothing reused: the time of a first run). The record holds
the wall time, the CPU time of the command and its workers (``user + sys``), the stage times from
``demo.json``, the headline gain, and the load average before the run (whether other work shared
the cores; the issue's target is for idle cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from crosstrain.records import command_line, make_record, write_record


def inductor_cache_files() -> int:
    """Files in torch inductor's on-disk cache (``TORCHINDUCTOR_CACHE_DIR``, else its default)."""
    import getpass
    import tempfile

    root = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or str(
        Path(tempfile.gettempdir()) / f"torchinductor_{getpass.getuser()}"
    )
    return sum(1 for f in Path(root).rglob("*") if f.is_file()) if Path(root).is_dir() else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dft", action="store_true", help="time crosstrain demo --dft")
    p.add_argument("--dir", default="runs/demo-time", help="scratch folder (removed first)")
    p.add_argument("--out", default=None, help="record (default: demo_time.json or demo_dft_time.json here)")
    args = p.parse_args()
    name = "demo_dft_time.json" if args.dft else "demo_time.json"
    out = Path(args.out or Path(__file__).with_name(name))
    folder = Path(args.dir) / ("dft" if args.dft else "sw")
    shutil.rmtree(folder, ignore_errors=True)
    command = ["crosstrain", "demo", "--out", str(folder)] + (["--dft"] if args.dft else [])
    load = os.getloadavg()[0]
    cache = inductor_cache_files()
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "CROSSTRAIN_SMOKE": ""})
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    demo = json.loads((folder / "demo.json").read_text(encoding="utf-8"))
    transfer, scratch = (demo["ge_test"][k]["force_mae"] for k in (demo["transfer"], "scratch"))
    result = {
        "command": " ".join(["crosstrain", "demo"] + (["--dft"] if args.dft else [])),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "stage_seconds": demo["stage_seconds"],
        "transfer": demo["transfer"],
        "force_mae_transfer": transfer,
        "force_mae_scratch": scratch,
        "gain_percent": round(100 * (1 - transfer / scratch), 1),
        "n_ge_train": demo["n_ge_train"],
        "n_ge_test": demo["n_ge_test"],
        "load_before": round(load, 2),
        # torch.compile's on-disk cache: a fresh machine starts cold and compiles every graph
        "inductor_cache_files_before": cache,
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    write_record(out, make_record("benchmark", command_line(), result, seeds=(0,), threads=None))


if __name__ == "__main__":
    main()
