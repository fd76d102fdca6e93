"""The ``rescaled`` start's scale search, before and after the subsample (issue 37).

``crosstrain.train.scales.estimate_scales`` fits the length scale s_L and the energy scale s_E of
Ge mapped onto Si in the shipped parent ``si-dft5``, as ``crosstrain transfer --strategy rescaled``
does (recipe ``dft-cpu5-finetune``, the training structures read with the parent's cutoff). Timed
here, on ``--threads`` threads, for each case:

- ``all``: the 206 training structures of the mlearn Ge split with 22 validation and no test
  structures (seed 0): above the search's budget, so the new search takes a stratified subsample;
- ``22``: the n = 22 draw of the study benchmarks (``n22.yaml``: the split's 180 training
  structures, drawn with ``--draw-seeds``): below the budget, so both searches must agree bit for bit.

"old" is ``src/crosstrain/train/scales.py`` as of commit ``OLD`` (read with ``git show``), "new"
the installed package. Each run starts from a freshly loaded parent. Results go to
``benchmarks/dft-transfer/scale_search.json``:

    python benchmarks/dft-transfer/scale_search.py [--cases all 22] [--threads 2] [--draw-seeds 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

RESULTS = Path(__file__).resolve().parent / "scale_search.json"
ROOT = Path(__file__).resolve().parents[2]
#: the last commit of scales.py before the subsample: the "old" search
OLD = "779f2bbfba50b1436ad4256d3f0d58bf2b4fd28d"
GRID_STEP = 0.005  # the search's resolution in s_L


def old_scales() -> ModuleType:
    """``crosstrain.train.scales`` as of ``OLD``, imported under another name."""
    try:
        source = subprocess.run(
            ["git", "show", f"{OLD}:src/crosstrain/train/scales.py"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"cannot read the old scales.py from git ({exc}); run inside the repository") from None
    spec = importlib.util.spec_from_loader("scales_old", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scales_old"] = module  # dataclasses look their module up
    exec(compile(source, f"{OLD[:7]}:scales.py", "exec"), module.__dict__)
    return module


def structures(case: str, seed: int) -> list[Any]:
    from crosstrain.data.mlearn import mlearn_split
    from crosstrain.data.splits import draw

    if case == "all":
        return mlearn_split("Ge", valid=22, test=0, seed=0)["train"]
    return draw(mlearn_split("Ge", valid=22, test=25, seed=0)["train"], int(case), seed)


def run(module: ModuleType, structs: list[Any]) -> dict[str, Any]:
    """One scale search as the ``rescaled`` start runs it, timed; counts the model passes."""
    import torch

    from crosstrain.config import load_config
    from crosstrain.io.checkpoint import load_checkpoint
    from crosstrain.pretrained import resolve_model
    from crosstrain.train.batches import Dataset

    config = load_config("dft-cpu5-finetune", ["transfer.strategy=rescaled", "transfer.parent=si-dft5"])
    parent = load_checkpoint(resolve_model("si-dft5"))
    data = Dataset(structs, parent.model.config.cutoff, name="training data")  # as pipeline.start
    model = parent.model.to(torch.float32 if config.train.dtype == "float32" else torch.float64)
    model.copy_element("Ge", "Si")  # as transfer.initialise
    passes: list[int] = []
    inner = module.loss_equations

    def counted(m: Any, d: Any, c: Any, **kw: Any) -> Any:
        passes.append(len(d))
        return inner(m, d, c, **kw)

    module.loss_equations = counted
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        fitted = module.apply_scales(model, parent, {"Ge": "Si"}, data=data, config=config)["scales"]["Ge"]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        module.loss_equations = inner
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "model_passes": len(passes),
        "structures_per_pass": sorted(set(passes)),
        "length_scale": fitted["length_scale"],
        "energy_scale": fitted["energy_scale"],
        "how": fitted["how"],
        "load_average_after": os.getloadavg()[0],
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    d_length = new["length_scale"] - old["length_scale"]
    d_energy = new["energy_scale"] - old["energy_scale"]
    return {
        "identical": d_length == 0 and d_energy == 0,
        "length_scale_difference": d_length,
        "within_grid_step": abs(d_length) <= GRID_STEP + 1e-9,
        "energy_scale_difference": d_energy,
        "energy_scale_relative_difference": d_energy / old["energy_scale"],
        "speedup": old["seconds"] / new["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["all", "22"], help="all, or a training-set size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--draw-seeds", nargs="+", type=int, default=[0], dest="draw_seeds")
    parser.add_argument("--variants", nargs="+", default=["old", "new"], choices=["old", "new"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    import crosstrain.train.scales as new_scales
    from crosstrain.records import command_line, make_record, write_record

    torch.set_num_threads(args.threads)
    modules = {"old": old_scales, "new": lambda: new_scales}
    rows = []
    for case in args.cases:
        for seed in args.draw_seeds if case != "all" else [0]:
            structs = structures(case, seed)
            row: dict[str, Any] = {"case": case, "draw_seed": seed if case != "all" else None, "n": len(structs)}
            row["atoms"] = sum(len(s) for s in structs)
            for variant in args.variants:
                row[variant] = run(modules[variant](), structs)
                r = row[variant]
                print(
                    f"n={len(structs):3d} {variant}: {r['seconds']:7.1f} s ({r['model_passes']} passes over "
                    f"{r['structures_per_pass']} structures), s_L {r['length_scale']:.4f}, s_E {r['energy_scale']:.6f}",
                    flush=True,
                )
            if "old" in row and "new" in row:
                row["comparison"] = compare(row["old"], row["new"])
                print(f"n={len(structs):3d} new vs old: {row['comparison']}", flush=True)
            rows.append(row)
    doc = {
        "benchmark": "scale_search",
        "parent": "si-dft5",
        "recipe": "dft-cpu5-finetune",
        "element_map": {"Ge": "Si"},
        "old": f"{OLD}:src/crosstrain/train/scales.py",
        "threads": args.threads,
        "seeds": {"split": 0, "draws": args.draw_seeds},
        "grid_step": GRID_STEP,
        "rows": rows,
    }
    seeds = tuple(sorted({0, *args.draw_seeds}))
    write_record(args.out, make_record("benchmark", command_line(), doc, seeds=seeds, threads=args.threads))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
