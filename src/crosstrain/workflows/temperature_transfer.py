"""Temperature transferability (paper Figure 4): train on one structure at one temperature, test
at every temperature.

From a SW data folder (``crosstrain data sw``): one target-element structure at the training
temperature (seeded pick from the training pool) trains a ``full`` transfer model and a
``scratch`` model with identical settings and the source's architecture; model selection uses
only the validation structures at that same temperature, so nothing from other temperatures
leaks in. Each model's force error on every test structure (up to ``per_temperature`` per temperature) gives one box per
temperature. An optional reference model (e.g. trained on the whole data set) joins the plot.
Models are cached in ``out``; a rerun only redoes the evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from crosstrain.config import config_from_dict
from crosstrain.data.extxyz import read_structures
from crosstrain.errors import DataFileError
from crosstrain.io.atomic import write_text
from crosstrain.io.checkpoint import is_finished, load_checkpoint
from crosstrain.provenance import provenance
from crosstrain.structure import Structure


def _at(structures: list[Structure], temperature: float, source: str) -> list[Structure]:
    temps = sorted({float(s.info["temperature"]) for s in structures if "temperature" in s.info})
    if not temps:
        raise DataFileError(f"{source}: structures carry no 'temperature'")
    nearest = min(temps, key=lambda t: abs(t - temperature))
    return [s for s in structures if float(s.info.get("temperature", -1)) == nearest]


def _per_temperature(structures: list[Structure], k: int, seed: int) -> list[Structure]:
    rng = np.random.default_rng(seed)
    by_t: dict[float, list[Structure]] = {}
    for s in structures:
        by_t.setdefault(float(s.info["temperature"]), []).append(s)
    return [by_t[t][i] for t in sorted(by_t) for i in sorted(rng.permutation(len(by_t[t]))[:k])]


def _train(name: str, ckpt: Path, log: Callable[[str], None], **kwargs: Any) -> None:
    from crosstrain.train.pipeline import fit

    if is_finished(ckpt):
        log(f"{name}: reusing {ckpt}")
        return
    log(f"{name}: training")
    fit(out=ckpt, resume=True, progress=False, **kwargs)


def temperature_transfer(
    data: str | Path,
    source: str | Path,
    out: str | Path,
    element: str = "Ge",
    source_element: str = "Si",
    train_temperature: float = 2000.0,
    per_temperature: int = 50,
    steps: int = 300,
    lr: float = 2e-3,
    seed: int = 0,
    reference: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from crosstrain.analysis.transferability import boxplot, by_temperature

    d, folder = Path(data), Path(out)
    pool = _at(read_structures(d / f"{element}.train.extxyz"), train_temperature, str(d))
    valid = _at(read_structures(d / f"{element}.valid.extxyz"), train_temperature, str(d))
    test = _per_temperature(read_structures(d / f"{element}.test.extxyz"), per_temperature, seed)
    pick = pool[int(np.random.default_rng(seed).integers(len(pool)))]
    t_train = float(pick.info["temperature"])
    every = max(1, steps // 10)
    architecture = asdict(load_checkpoint(source).model.config)  # scratch gets the same network
    for strategy in ("full", "scratch"):
        cfg = config_from_dict({
            "model": architecture,
            "train": {"epochs": steps, "batch_size": 1, "lr": lr, "lr_decay": 0.1, "seed": seed, "valid_every": every},
            "transfer": {"strategy": strategy},
        })  # fmt: skip
        _train(
            strategy,
            folder / f"{element}_{strategy}.ckpt",
            log,
            config=cfg,
            data=[pick],
            valid=valid,
            parent=source,  # scratch ignores it
            element_map={element: source_element},
        )
    models = {s: load_checkpoint(folder / f"{element}_{s}.ckpt").model for s in ("full", "scratch")}
    if reference is not None:
        models["reference"] = load_checkpoint(reference).model
    log(f"force errors on {len(test)} test structures")
    errors = by_temperature(models, test)
    boxplot(errors, folder / "force_by_temperature.png",
            f"{element}: trained on one structure at {t_train:g} K")  # fmt: skip
    medians = {n: {t: float(np.median(v)) for t, v in e.items()} for n, e in errors.items()}
    wins = sum(medians["full"][t] < medians["scratch"][t] for t in medians["full"])
    result = {
        "element": element,
        "train_temperature": t_train,
        "train_structure": pick.source,
        "steps": steps,
        "n_valid": len(valid),
        "n_test": len(test),
        "median_force_mae": medians,
        "full_better_at": f"{wins} of {len(medians['full'])} temperatures",
        "per_structure_force_mae": errors,
        **provenance(),
    }
    write_text(folder / "temperature_transfer.json", json.dumps(result, indent=2))
    _report(result, folder)
    return result


def _report(result: dict[str, Any], folder: Path) -> None:
    from crosstrain.report import markdown_table, write_report

    med = result["median_force_mae"]
    names = list(med)
    rows = [[t] + [f"{med[n][t]:.4f}" for n in names] for t in med["full"]]
    text = (
        f"# Temperature transferability: {result['element']}\n\n"
        f"Trained on one structure at {result['train_temperature']:g} K ({result['steps']} steps); "
        f"`full` transfer has the lower median force error at {result['full_better_at']}.\n\n"
        + markdown_table(["T (K)", *[f"{n} median force MAE (eV/Å)" for n in names]], rows)
        + "\n\n![force errors by temperature](force_by_temperature.png)\n"
    )
    write_report(folder, "report", "temperature transferability", text)
