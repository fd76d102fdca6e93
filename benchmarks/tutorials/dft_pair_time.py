"""How long the DFT tutorial takes: the README's five commands, run exactly as written, timed.

    python benchmarks/tutorials/dft_pair_time.py [--dir runs/tutorial]

Each command runs in ``--dir`` as a user would type it; its wall time and the machine's load
average before it are recorded (the figure is a wall time on this machine, not a CPU time).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from crosstrain.records import command_line, make_record, write_record

ROOT = Path(__file__).resolve().parents[2]


def five_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Your own element pair in five commands", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", text, flags=re.S)[0]
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="runs/tutorial")
    p.add_argument("--out", default=str(Path(__file__).with_name("dft_pair_time.json")))
    args = p.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for command in five_commands():
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        subprocess.run(shlex.split(command), cwd=work, check=True, env={**os.environ, "CROSSTRAIN_SMOKE": ""})
        rows.append({"command": command, "seconds": round(time.perf_counter() - t0, 1), "load_before": load})
        print(f"{rows[-1]['seconds']:8.1f} s  {command}", flush=True)
    total = sum(r["seconds"] for r in rows)
    print(f"{total / 60:.1f} min in all")
    result = {"steps": rows, "total_seconds": round(total, 1), "cores": os.cpu_count()}
    write_record(args.out, make_record("benchmark", command_line(), result, seeds=(0,), threads=None))


if __name__ == "__main__":
    main()
