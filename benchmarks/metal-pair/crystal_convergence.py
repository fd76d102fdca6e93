"""How converged is a DFT crystal reference? The same element's references at other settings, side by side.

Reads the reference at the label setting and one or more made with one setting changed (for Na:
denser k-points; ``crosstrain crystal-reference ... --kpoint-density 10 --density-tolerance 1e-6
--no-vacancy``) and records each one's a0, B, C11, C12, C44 and the shear constant
C' = (C11 - C12)/2, with the change from the first. Writes a record.

    python benchmarks/metal-pair/crystal_convergence.py src/crosstrain/data/crystal_reference/Na.json \\
        runs/na-crystal-k10/crystal_reference.json runs/na-crystal-k15/crystal_reference.json \\
        --out benchmarks/metal-pair/crystal_convergence.json
"""

from __future__ import annotations

import argparse

KEYS = ("a0", "bulk_modulus", "C11", "C12", "C44")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("references", nargs="+", help="crystal_reference.json files; the first is the baseline")
    parser.add_argument("--out", required=True, help="the record to write")
    args = parser.parse_args()

    from crosstrain.dft.crystal_reference import read_crystal_reference
    from crosstrain.records import command_line, make_record, write_record

    rows = []
    for path in args.references:
        ref = read_crystal_reference(path)
        p = ref.properties
        values = {k: float(getattr(p, k)) for k in KEYS}
        values["C_prime"] = (p.C11 - p.C12) / 2
        rows.append({"settings": ref.settings, "describe": ref.describe(), "command": ref.command, "values": values})
    base = rows[0]["values"]
    for row in rows:
        row["change"] = {k: row["values"][k] - base[k] for k in base}
        print(f"{row['describe']}: " + ", ".join(f"{k} {v:.4g}" for k, v in row["values"].items()), flush=True)
    path = write_record(args.out, make_record("benchmark", command_line(), {"rows": rows}, threads=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
