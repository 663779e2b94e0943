#!/usr/bin/env bash
# The main job end to end on real recordings (run by `make demo`):
# fetch drum one-shots from Debian packages -> inspect -> 5-fold grouped CV -> train -> predict.
# No root needed; the only network used is the Debian archive (apt-get download).
set -euo pipefail
OUT=${1:-demo-output}
BIN=${BIN:-.venv/bin}
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/5 fetching real drum recordings (Debian hydrogen-drumkits, hydrogen-data)"
DATA=$("$BIN/earmark" datasets fetch drums -q)
echo "dataset: $DATA"

echo "== 2/5 inspecting the dataset"
"$BIN/earmark" inspect "$DATA" --json "$OUT/inspect.json" --report "$OUT/dataset.html" -q

echo "== 3/5 cross-validating (folds grouped by kit family)"
"$BIN/earmark" evaluate "$DATA" --folds fold --json "$OUT/cv.json" --report "$OUT/report.html"

echo "== 4/5 training the final model on all the data"
"$BIN/earmark" train "$DATA" --out "$OUT/drums.earmark"

echo "== 5/5 predicting a few files"
# globs, not `ls | head`: under pipefail, ls killed by SIGPIPE when head exits early fails the demo
kick=("$DATA"/kick/*.wav) snare=("$DATA"/snare/*.wav) ride=("$DATA"/ride/*.wav)
files=("${kick[@]:0:2}" "${snare[@]:0:2}" "${ride[@]:0:1}")
"$BIN/earmark" predict "$OUT/drums.earmark" "${files[@]}" --out "$OUT/predictions.csv" -q
"$BIN/python" - "$OUT/predictions.csv" <<'PY'
import sys, pandas as pd
t = pd.read_csv(sys.argv[1])
for _, r in t.iterrows():
    print(f"  {r['path'].split('/')[-2]:>8}/{r['path'].split('/')[-1][:50]:<50} -> {r['label']}")
PY

echo
echo "done in $(( $(date +%s) - start )) s. Results in $OUT/:"
echo "  dataset.html     what is in the data (open in a browser)"
echo "  report.html      cross-validation report: metrics, confusions, mistakes to listen to"
echo "  cv.json          the same numbers as JSON (+ cv_confusion.png)"
echo "  drums.earmark    the trained model:  earmark predict $OUT/drums.earmark FILES --out p.csv"
echo "  predictions.csv  predictions for the files above"
