"""The speed page: MD steps per second, scaling with size, energy drift in LAMMPS, how long the tutorials take."""

from __future__ import annotations

import functools
from typing import Any

from crosstrain.publish.common import GENERATED, Headline, Records, cite, field


def speed(rec: Records) -> tuple[str, list[Headline]]:
    path = "benchmarks/md-speed/md_speed_5A.json"
    r = rec[path]
    rows = field(r, path, "rows")
    lines = [
        "# Speed",
        "",
        GENERATED,
        "",
        "MD steps per second of a 5 Å DFT model (`si-dft5`), 64 atoms, one thread, ASE velocity Verlet.",
        "",
        "| mode | steps/s | ms/step | warm-up (s) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {x['mode']} | {x['steps_per_second']:.1f} | {x['ms_per_step']:.1f} | {x['warmup_seconds']:.1f} |"
        for x in rows
    ]
    machine = r.machine.get("cpu", "unknown CPU")
    lines += ["", f"Machine: {machine}, {r.threads} thread(s).", "", f"Record: {cite(path, r, 2)}"]
    lines += _triplet_section(rec)
    lines += _scaling_section(rec) + _drift_section(rec) + _demo_section(rec) + _tutorial_section(rec)
    best = max(rows, key=lambda x: x["steps_per_second"])
    head = Headline(
        "MD speed, 5 Å DFT model, 64 atoms, one thread",
        f"{best['steps_per_second']:.0f} steps/s ({best['mode']})",
        "speed.md",
        path,
    )
    return "\n".join(lines) + "\n", [head]


def _triplet_section(rec: Records) -> list[str]:
    """The listed-triplet commit against the harmonic sum, measured side by side."""
    path = "benchmarks/md-speed/triplet_sum.json"
    if not (rec.root / path).is_file():
        return []
    r = rec[path]
    summary = field(r, path, "summary")
    names = {
        "md_eager_steps_per_second": "MD, eager (steps/s)",
        "md_compiled_steps_per_second": "MD, compiled (steps/s)",
        "train_step_ms": "training step, 4 × 64 atoms, eager (ms)",
    }
    lines = [
        "",
        "## The sum over triplets through spherical harmonics",
        "",
        "DimeNet++ sums its angle terms over every pair of edges that meet at an atom (about 27 per edge",
        "at 5 Å in diamond). Through the addition theorem of spherical harmonics crosstrain sums them per",
        "atom instead: the same model to float rounding (1e-15 eV in float64, tested), at the cost of the",
        f"edges. Before (commit `{field(r, path, 'base_commit')}`, listed triplets) and after, each a fresh",
        f"process, alternated over {len(field(r, path, 'rounds'))} rounds on the same machine; "
        f"`{field(r, path, 'model')}`, 64 atoms, one thread.",
        "",
        "| measure | before | after | after / before (range over rounds) |",
        "|---|---|---|---|",
    ]
    for key, name in names.items():
        x = summary[key]
        low, high = x["ratio_range"]
        lines.append(
            f"| {name} | {x['before']:.1f} | {x['after']:.1f} | {x['ratio_after_over_before']:.2f} "
            f"({low:.2f}–{high:.2f}) |"
        )
    return [*lines, "", f"Record: {cite(path, r)}"]


SCALING_RECORDS = ("benchmarks/md-speed/md_scaling.json", "benchmarks/md-speed/md_scaling_2threads.json")


def _scaling_section(rec: Records) -> list[str]:
    paths = [p for p in SCALING_RECORDS if (rec.root / p).is_file()]
    if not paths:
        return []
    lines = [
        "",
        "## Cost against system size, ASE and LAMMPS",
        "",
        f"Ge diamond, velocity Verlet, eager; model: {field(rec[paths[0]], paths[0], 'model')}. Linear cost is",
        'a constant time per atom-step; the LAMMPS engine includes the virial every step. "Keeps freed memory"',
        "is `crosstrain.allocator.keep_freed_memory`, which the MD engines turn on: without it glibc hands",
        "every step's activations back to the system and faults them in again on the next step.",
    ]
    for path in paths:
        lines += _scaling_table(rec, path)
    return lines


def _scaling_table(rec: Records, path: str) -> list[str]:
    r = rec[path]
    rows = [x for x in field(r, path, "rows") if "failed" not in x]
    failed = [x for x in field(r, path, "rows") if "failed" in x]
    lines = [
        "",
        "| atoms | engine | allocator | threads | steps/s | µs per atom-step | peak memory (MB) |",
        "|---|---|---|---|---|---|---|",
    ]

    def alloc(x: dict[str, Any]) -> str:
        return "keeps freed memory" if x.get("keep_freed_memory", True) else "glibc default"

    lines += [
        f"| {x['atoms']} | {x['engine']} | {alloc(x)} | {x['threads']} | {x['steps_per_second']:.3g} | "
        f"{x['us_per_atom_step']:.0f} | {x['peak_rss_mb']:.0f} |"
        for x in rows
    ]
    lines += [
        f"| {x['atoms']} | {x['engine']} | {alloc(x)} | {x['threads']} | failed: {x['failed']} | | |" for x in failed
    ]
    load = r.result.get("load")
    return [*lines, *(["", f"Conditions: {load}."] if load else []), "", f"Record: {cite(path, r)}"]


def _drift_section(rec: Records) -> list[str]:
    path = "benchmarks/md-stability/lammps_nve_drift.json"
    if not (rec.root / path).is_file():
        return []
    r = rec[path]
    get = functools.partial(field, r, path)
    return [
        "",
        "## Energy conservation inside LAMMPS",
        "",
        f"A trained Ge model (`{get('model')}`), {get('atoms')} atoms, {get('equilibrate_ps'):g} ps of Langevin at "
        f"{get('temperature_K'):g} K, then {get('nve_ps'):g} ps of NVE at {get('timestep_fs'):g} fs in LAMMPS "
        f"(mean {get('nve_mean_temperature_K'):.0f} K): total energy drift {get('drift_per_atom_eV'):+.1e} eV/atom "
        f"(straight-line slope {get('drift_slope_eV_per_atom_per_ps'):+.1e} eV/atom/ps), largest excursion "
        f"{get('max_excursion_per_atom_eV'):.1e} eV/atom; {get('model_ms_per_call'):.0f} ms per model call "
        f"({'compiled' if get('compiled') else 'eager'}, with the virial).",
        "",
        f"Record: {cite(path, r)}",
    ]


def _tutorial_section(rec: Records) -> list[str]:
    path = "benchmarks/tutorials/dft_pair_time.json"
    if not (rec.root / path).is_file():
        return []
    r = rec[path]
    steps = field(r, path, "steps")
    lines = [
        "",
        "## How long the DFT tutorial takes",
        "",
        "The README's five commands, run as written, one after the other (wall time; the load average",
        "before each shows whether other work shared the cores).",
        "",
        "| command | wall time (s) | load before |",
        "|---|---|---|",
    ]
    lines += [f"| `{x['command']}` | {x['seconds']:.0f} | {x['load_before']:.1f} |" for x in steps]
    total = field(r, path, "total_seconds")
    return [*lines, f"| all | {total:.0f} ({total / 60:.1f} min) | |", "", f"Record: {cite(path, r)}"]


DEMO_RECORDS = ("benchmarks/tutorials/demo_time.json", "benchmarks/tutorials/demo_dft_time.json")


def _demo_section(rec: Records) -> list[str]:
    """How long the two demos take from a clean folder, stage by stage, with the gain they print."""
    present = [p for p in DEMO_RECORDS if (rec.root / p).is_file()]
    if not present:
        return []
    lines = [
        "",
        "## How long the demos take",
        "",
        "From a clean output folder (nothing reused), wall time on the machine of the record; the load",
        "average before the run shows whether other work shared the cores.",
        "",
        "| command | wall time (s) | data | parent | Ge models | MD | gain on forces | load before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in present:
        r = rec[path]
        get = functools.partial(field, r, path)
        stage = get("stage_seconds")
        cells = " | ".join(f"{stage.get(k, 0):.0f}" for k in ("data", "parent", "ge_models", "md"))
        lines.append(
            f"| `{get('command')}` | {get('wall_seconds'):.0f} | {cells} | {get('gain_percent'):.0f} % "
            f"(`{get('transfer')}` {get('force_mae_transfer'):.3f} vs `scratch` {get('force_mae_scratch'):.3f} eV/Å, "
            f"{get('n_ge_train')} training structures) | {get('load_before'):.1f} |"
        )
    for path in present:
        lines += ["", f"Record: {cite(path, rec[path])}"]
    return lines
