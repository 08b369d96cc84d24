"""``ds.inspect`` at GPT-2-small scale: time and peak RSS per lens (BENCHMARKS.md).

    python bench/inspect_scale.py                 # 124M parameters, batch 4 x 64 tokens
    python bench/inspect_scale.py --small         # a 2-layer GPT-2 (a quick check)

The model is built from ``GPT2Config()`` at random init (nothing downloaded), one thread,
default lenses with the budgets ``ds.inspection.budgets`` sizes to the model. Results go to
``bench/results/inspect_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--time-limit", type=float, default=1800.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "inspect_scale.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    from transformers import GPT2Config, GPT2LMHeadModel

    import deepscope as ds

    cfg = GPT2Config(n_layer=2) if args.small else GPT2Config()
    model = GPT2LMHeadModel(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (4, 64), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        run = ds.inspect(model, data=({"input_ids": ids}, ids), loss_fn=ds.losses.causal_lm,
                         root=root, time_limit=args.time_limit,
                         progress=lambda line: print(line, flush=True))
        manifest = run.manifest
    total = time.perf_counter() - t0
    import datetime
    import os

    command = "python bench/inspect_scale.py" + (" --small" if args.small else "") + (
        f" --time-limit {args.time_limit:g}" if args.time_limit != 1800.0 else "")
    out = {"command": command,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_avg_1m": round(os.getloadavg()[0], 1), "torch": torch.__version__,
                       "threads": 1},
           "results": {"params": sum(p.numel() for p in model.parameters()), "batch": [4, 64],
                       "total_seconds": round(total, 1), "budgets": manifest["budgets"],
                       "lenses": [{k: r[k] for k in ("lens", "status", "seconds",
                                                     "peak_rss_mib", "detail")}
                                  for r in manifest["lenses"]],
                       "findings": manifest["findings"]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
