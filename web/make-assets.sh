#!/usr/bin/env bash
# Regenerates what the page ships, with the robustdx command line: small models trained on the
# synthetic sets, a GAP generator, sample images and an example sweep record. Deterministic
# (every step is seeded). Run from anywhere; takes ~15 minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
A=web/assets
DERM="synth-derm:n=800,test=200"
FUNDUS="synth-fundus:n=800,test=200"
cargo build --quiet -p robustdx
R="${CARGO_TARGET_DIR:-target}/debug/robustdx --backend cpu"

rm -rf "$A/models" "$A/samples" "$A/reports"
mkdir -p "$A/models" "$A/samples" "$A/reports"

$R train --data "$DERM" --model small-cnn --epochs 3 --out "$A/models/small-cnn-derm.bpk"
$R gap train --model "$A/models/small-cnn-derm.bpk" --data "$DERM" --out "$A/models/small-cnn-derm-gap.bpk" \
  --width 8 --epochs 2 --lr 2e-3
$R train --data "$DERM" --model attn-vgg --tiny --epochs 3 --out "$A/models/attn-vgg-derm.bpk"
$R train --data "$FUNDUS" --model small-cnn --epochs 3 --out "$A/models/small-cnn-fundus.bpk"
$R attack --model "$A/models/small-cnn-derm.bpk" --data "$DERM" --attack fgsm,pgd,gap \
  --generator "$A/models/small-cnn-derm-gap.bpk" --eps 0,1,2,4,8 --json "$A/reports/small-cnn-derm.json"
rm -f "$A"/models/*.ckpt "$A"/reports/*.lock
# The record names the files it used; keep it free of this machine's paths.
sed -i "s#\"$A/#\"#g" "$A/reports/small-cnn-derm.json"

# Sample images: the first test images of each class.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
samples=()
for set in derm:$DERM fundus:$FUNDUS; do
  name=${set%%:*}
  $R data export --data "${set#*:}" --split test --limit 40 --out "$tmp/$name" >/dev/null
  for dir in "$tmp/$name"/*/; do
    class=$(basename "$dir")
    for file in $(ls "$dir" | head -n 2); do
      id="$name-${class// /-}-${file%.png}"
      cp "$dir/$file" "$A/samples/$id.png"
      samples+=("{\"id\": \"$id\", \"file\": \"samples/$id.png\", \"data\": \"$name\", \"truth\": \"$class\"}")
    done
  done
done

cat > "$A/manifest.json" <<JSON
{
  "models": [
    {"id": "small-cnn-derm", "title": "Small CNN, synthetic dermoscopy (clean)", "file": "models/small-cnn-derm.bpk",
     "data": "derm", "training": "clean", "generator": "models/small-cnn-derm-gap.bpk", "attention": false,
     "about": "A small VGG-style CNN (conv, batch norm, ReLU, pooling blocks) trained by robustdx on synthetic dermoscopy (benign vs malignant), 64×64, 3 epochs."},
    {"id": "attn-vgg-derm", "title": "AttnVGG (tiny), synthetic dermoscopy (clean)", "file": "models/attn-vgg-derm.bpk",
     "data": "derm", "training": "clean", "generator": null, "attention": true,
     "about": "The seed study's attention-gated VGG at its narrow width, trained on synthetic dermoscopy; shows its two attention maps before and after the attack."},
    {"id": "small-cnn-fundus", "title": "Small CNN, synthetic fundus grading (clean)", "file": "models/small-cnn-fundus.bpk",
     "data": "fundus", "training": "clean", "generator": null, "attention": false,
     "about": "A small VGG-style CNN grading synthetic fundus photographs 0–3 by lesion counts, 64×64, 3 epochs."}
  ],
  "samples": [
$(IFS=,; printf '    %s\n' "${samples[*]}" | sed 's/}, *{/},\n    {/g')
  ]
}
JSON
ls -la "$A"/* | sed 's/^/  /'
