"""``python -m bench [--quick] [--out PATH] [--case NAME ...] [--no-scaling] [--render]``.

Runs the cases of :mod:`bench.cases` (all by default) and the scaling series, then writes the
results file (default ``bench/results.json``; ``bench/.cache/quick/results.json`` with
``--quick``, so CI never overwrites the committed full results) and, beside it, ``README.md``,
``speedups.png`` and ``scaling.png`` (``--render`` only rewrites those from the results file).
Exits 1 when a case failed (its check or its run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import cases as case_registry
from bench.data import Inputs, describe
from bench.harness import CaseFailed, Context

BENCH_DIR = Path(__file__).resolve().parent
FULL_OUT = BENCH_DIR / "results.json"
QUICK_OUT = BENCH_DIR / ".cache" / "quick" / "results.json"


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every case at small n (CI)")
    parser.add_argument("--out", type=Path, help="results file; README and charts go beside it")
    parser.add_argument(
        "--case", action="append", choices=case_registry.CASE_NAMES, help="run only this case"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling series")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite README and charts from --out"
    )
    return parser.parse_args(argv)


def render(out_path: Path, results: dict[str, Any]) -> int:
    """Write the README and the charts beside ``out_path``; exit status 1 if a case failed."""
    from bench.charts import write_charts  # noqa: PLC0415
    from bench.report import write_readme  # noqa: PLC0415

    write_charts(out_path.parent, results)
    readme = write_readme(out_path.parent, results)
    _say(f"wrote {readme} and the charts beside {out_path}")
    print(readme.read_text(encoding="utf-8").split("## Results", 1)[-1].split("## Case details")[0])
    return 1 if results["failures"] else 0


def run_case(name: str, ctx: Context, out: dict[str, Any]) -> None:
    """Run one case, filing it under ``cases``, ``absolute``, ``pending`` or ``failures``."""
    module = case_registry.load(name)
    reason = module.pending()
    if reason is not None:
        _say(f"{name}: pending ({reason})")
        out["pending"].append({"name": name, "reason": reason})
        return
    _say(f"{name}: running")
    start = time.perf_counter()
    try:
        entry = module.run(ctx)
    except CaseFailed as exc:
        _say(f"{name}: FAILED: {exc}")
        out["failures"].append({"name": name, "reason": str(exc)})
        return
    except Exception as exc:
        _say(f"{name}: FAILED with an error:\n{traceback.format_exc()}")
        out["failures"].append({"name": name, "reason": f"{type(exc).__name__}: {exc}"})
        return
    entry["case_wall_s"] = round(time.perf_counter() - start, 1)
    # `cases` holds only rated comparisons (every field a number, as INTERFACE.md's schema
    # says); a measurement with no peer (tile server latency) is filed under `absolute`.
    out["cases" if entry["peer_s"] is not None else "absolute"].append(entry)
    if entry["peer_s"] is None:
        _say(f"{name}: ours {entry['ours_s']:.4g} s (absolute; no peer)")
    else:
        _say(
            f"{name}: ours {entry['ours_s']:.4g} s, peer {entry['peer_s']:.4g} s,"
            f" speedup {entry['speedup']:.4g} (target {entry['target']})"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_path = (args.out or (QUICK_OUT if args.quick else FULL_OUT)).resolve()
    if args.render:
        return render(out_path, json.loads(out_path.read_text(encoding="utf-8")))
    from bench.report import machine, write_results  # noqa: PLC0415

    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(args.quick), "cases": [], "absolute": [], "pending": [],
        "failures": [],
    }  # fmt: skip
    inputs = Inputs()
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        ctx = Context(quick=args.quick, inputs=inputs, workdir=Path(tmp))
        for name in args.case or case_registry.CASE_NAMES:
            run_case(name, ctx, results)
        results["inputs"] = describe(inputs)
        if not args.no_scaling:
            from bench import scaling  # noqa: PLC0415

            results["scaling"] = scaling.run(ctx, progress=_say)
    results["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    results["machine"]["wall_s"] = round(time.perf_counter() - started, 1)
    write_results(out_path, results)
    _say(f"wrote {out_path}")
    return render(out_path, results)


if __name__ == "__main__":
    raise SystemExit(main())
