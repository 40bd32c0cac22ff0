#!/usr/bin/env bash
# LiteRT acceptance: four searches, float and int8 .tflite files of each, then a client
# in a virtual environment with only ai-edge-litert, numpy, Pillow and soundfile (no
# TensorFlow, no keras-automl) scoring each file on the test split.
#
# Usage: benchmarks/litert_export.sh WORK   (needs espeak-ng, sox and the glyph fonts;
#        see ../shared/data/README.md)
set -euo pipefail
work=$(realpath "$1"); here=$(cd "$(dirname "$0")/.." && pwd); shared="$here/../shared/data"
automl="$here/.venv/bin/automl"; python="$here/.venv/bin/python"
mkdir -p "$work" && cd "$work"
[ -d digits ] || "$python" "$here/benchmarks/make_digits_pngs.py" digits
[ -d glyphs ] || "$python" "$shared/make_glyphs.py" glyphs
[ -d keywords ] || python3 "$shared/make_keywords.py" keywords --speakers 60
search() { "$automl" search --overwrite --export tflite:none,int8 "$@" | tail -1; }
search --task image --data digits --out run_digits --time-budget 60
search --task image --data glyphs --out run_glyphs --time-budget 120
search --task audio --data keywords --out run_keywords --time-budget 150
search --task text --data "$shared/rotten_tomatoes" --out run_rt --time-budget 120
[ -x client/bin/python ] || { python3 -m venv client && client/bin/pip install -q \
    ai-edge-litert numpy Pillow soundfile; }
for pair in "run_digits digits/test" "run_glyphs glyphs/test" "run_keywords keywords/test" \
            "run_rt $shared/rotten_tomatoes/test.csv"; do
    set -- $pair
    for file in model.tflite model_int8.tflite; do
        echo "$1 $file client: $(client/bin/python "$here/examples/litert_client.py" \
            "$1/model/$file" "$2" 2>/dev/null)"
    done
    "$python" - "$1" <<'EOF'
import json, sys
card = json.load(open(f"{sys.argv[1]}/model/model_card.json"))
for quantization, e in card["litert"].items():
    tensors = "/".join(t["dtype"] for t in e["inputs"] + e["outputs"])
    print(f"  {quantization}: {e['size_bytes']} bytes, test {e['test_accuracy']:.4f} "
          f"(SavedModel {e['saved_model_test_accuracy']:.4f}), agree "
          f"{e['agreement_with_saved_model']:.4f}, {e['latency_ms']} ms, {tensors}, "
          f"float ops {e['float_ops']}")
print(f"  int8/float size {card['litert']['int8']['size_bytes'] / card['litert']['none']['size_bytes']:.3f}, "
      f"wall {card['search']['wall_seconds']} s of {card['search']['time_budget_seconds']}")
EOF
done
