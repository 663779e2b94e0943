"""Does YAMNet's int8 quantisation cost accuracy? The installed int8 graph against a float copy.

The YAMNet that ``earmark models install yamnet`` installs is a QDQ (QuantizeLinear /
DequantizeLinear) int8 export whose weights are stored as floats. Removing every
Quantize→Dequantize pair gives the same network in float32 (float activations, the stored
weights unrounded). This script writes that copy into a temporary ``EARMARK_HOME`` (other models
linked, not copied), then cross-validates ``embed:yamnet+logreg`` with both on the bench
datasets' own folds and prints one row per dataset.

    python benchmarks/yamnet_quantisation.py drums foley [--threads 1]
"""

import argparse
import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import earmark
from _bench import add_threads_option, bench_dataset, earmark_home_at, setup
from earmark._home import earmark_home


def remove_qdq(model):
    """A copy of an ONNX model with every QuantizeLinear -> DequantizeLinear pair bypassed."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    bypass, dropped = {}, set()
    for n in g.node:
        q = producer.get(n.input[0]) if n.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear":
            bypass[n.output[0]] = q.input[0]
            dropped.update((id(n), id(q)))
    kept = [n for n in g.node if id(n) not in dropped]
    for n in kept:
        for i, name in enumerate(n.input):
            n.input[i] = bypass.get(name, name)
    del g.node[:]
    g.node.extend(kept)
    for out in g.output:                      # an output that was a Dequantize result
        if out.name in bypass:
            g.node.append(onnx.helper.make_node("Identity", [bypass[out.name]], [out.name]))
    onnx.checker.check_model(m)
    return m


@contextlib.contextmanager
def float_yamnet_home():
    """A temporary EARMARK_HOME whose YAMNet is the float copy (other models linked)."""
    import onnx

    models = earmark_home() / "models"
    with tempfile.TemporaryDirectory(prefix="earmark-yamnet-float-") as tmp:
        home = Path(tmp)
        (home / "models").mkdir()
        for d in models.iterdir():
            if d.name != "yamnet":
                (home / "models" / d.name).symlink_to(d.resolve())
        shutil.copytree(models / "yamnet", home / "models" / "yamnet")
        path = home / "models" / "yamnet" / "yamnet.onnx"
        onnx.save(remove_qdq(onnx.load(path)), path)
        manifest_path = home / "models" / "yamnet" / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["files"]["model"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest_path.write_text(json.dumps(manifest, indent=2))
        with earmark_home_at(tmp):
            yield


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", help="drums, foley, instruments")
    add_threads_option(ap)
    args = ap.parse_args()
    setup(args)
    if not (earmark_home() / "models" / "yamnet").is_dir():
        raise SystemExit("YAMNet is not installed: earmark models install yamnet")
    rows = []
    for name in args.datasets:
        root = bench_dataset(name)
        scores = []
        for variant in ("int8", "float"):
            ctx = float_yamnet_home() if variant == "float" else contextlib.nullcontext()
            with ctx:
                t = time.perf_counter()
                r = earmark.cross_validate(root, folds="fold", recipe="embed:yamnet+logreg",
                                           progress=False)
            scores.append((r["balanced_accuracy"], r["balanced_accuracy_std"],
                           time.perf_counter() - t))
            print(f"{name} {variant}: balanced accuracy {scores[-1][0]:.3f} ± "
                  f"{scores[-1][1]:.3f} ({scores[-1][2]:.0f} s)", flush=True)
        rows.append((name, scores))
    print("\n| dataset | YAMNet int8 (installed) | YAMNet float (QDQ removed) |\n|---|---|---|")
    for name, ((a, sa, _), (b, sb, _)) in rows:
        print(f"| {name} | {a:.3f} ± {sa:.3f} | {b:.3f} ± {sb:.3f} |")


if __name__ == "__main__":
    main()
