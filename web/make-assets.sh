#!/usr/bin/env bash
# Regenerates what the page ships, with the robustdx command line: small models trained on the
# synthetic sets, a GAP generator, sample images and an example sweep record. Deterministic
# (every step is seeded). Run from anywhere; takes ~35 minutes on a 2-core CPU. The defended
# models are trained exactly as `robustdx bench defenses` trains them (same flags, same seed).
set -euo pipefail
cd "$(dirname "$0")/.."
A=web/assets
DERM="synth-derm:n=800,test=200"
FUNDUS="synth-fundus:n=800,test=200"
cargo build --quiet -p robustdx
R="${CARGO_TARGET_DIR:-target}/debug/robustdx --backend cpu"

rm -rf "$A/models" "$A/samples" "$A/reports" "$A/cards"
mkdir -p "$A/models" "$A/samples" "$A/reports" "$A/cards"

$R train --data "$DERM" --model small-cnn --epochs 3 --out "$A/models/small-cnn-derm.bpk"
$R gap train --model "$A/models/small-cnn-derm.bpk" --data "$DERM" --out "$A/models/small-cnn-derm-gap.bpk" \
  --width 8 --epochs 2 --lr 2e-3
$R train --data "$DERM" --model attn-vgg --tiny --epochs 3 --out "$A/models/attn-vgg-derm.bpk"
$R train --data "$FUNDUS" --model small-cnn --epochs 3 --out "$A/models/small-cnn-fundus.bpk"
# Defended derm models, hardened at ε = 4/255 (MPAdvT draws its own ε).
$R train --data "$DERM" --model small-cnn --epochs 6 --defense pgd-at --eps 4 --attack-steps 5 \
  --out "$A/models/small-cnn-derm-pgd-at.bpk"
$R train --data "$DERM" --model small-cnn --epochs 6 --defense mpadvt --out "$A/models/small-cnn-derm-mpadvt.bpk"
$R train --data "$DERM" --model small-cnn --epochs 6 --defense mart --eps 4 --out "$A/models/small-cnn-derm-mart.bpk"
# The base model of randomized smoothing for "Certify this image": Gaussian augmentation at σ 0.25.
$R train --data "$DERM" --model small-cnn --epochs 6 --defense gaussian --sigma 0.25 \
  --out "$A/models/small-cnn-derm-gaussian.bpk"
# What ships: 16-bit convolution and linear weights (half the download; batch norm stays 32-bit).
for model in "$A"/models/*.bpk; do
  case $model in *-gap.bpk) ;; *) $R half --model "$model" --out "$model" ;; esac
done
$R attack --model "$A/models/small-cnn-derm.bpk" --data "$DERM" --attack fgsm,pgd,gap \
  --generator "$A/models/small-cnn-derm-gap.bpk" --eps 0,1,2,4,8 --json "$A/reports/small-cnn-derm.json"
# AutoAttack's contribution table for the viewer: a small derm model (not shipped) and 40 test
# images at ε = 1/255 (8 min 19 s on 2 cores).
$R train --data "synth-derm:n=400,test=40" --model small-cnn --epochs 3 --out "$A/models/autoattack-derm.bpk"
$R attack --model "$A/models/autoattack-derm.bpk" --data "synth-derm:n=400,test=40" --attack autoattack \
  --eps 1 --json "$A/reports/small-cnn-derm-autoattack.json"
rm "$A/models/autoattack-derm.bpk"
rm -f "$A"/models/*.ckpt "$A"/reports/*.lock
# The records name the files they used; keep them free of this machine's paths.
sed -i "s#\"$A/#\"#g" "$A"/reports/*.json

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

# The Leaderboard tab's zoo: a quick robustness card per shipped classifier (40 sampled test
# images; 3 to 8 minutes each on 2 cores, the AutoAttack sweep most of it). The parts' files stay
# in the temporary directory; the cards name them as if made with --out card.
cards=()
for entry in small-cnn-derm:$DERM attn-vgg-derm:$DERM small-cnn-fundus:$FUNDUS small-cnn-derm-pgd-at:$DERM \
  small-cnn-derm-mpadvt:$DERM small-cnn-derm-mart:$DERM small-cnn-derm-gaussian:$DERM; do
  id=${entry%%:*}
  $R card --level quick --model "$A/models/$id.bpk" --data "${entry#*:}" --out "$tmp/card-$id" >/dev/null
  sed -e "s#$tmp/card-$id/#card/#g" -e "s#\"$A/#\"#g" -e "s# $A/# #g" "$tmp/card-$id/card.json" >"$A/cards/$id.json"
  cards+=("{\"model\": \"$id\", \"file\": \"cards/$id.json\"}")
done

# How each model was trained, from its own card.
recipe() { $R models "$A/models/$1.bpk" | sed 's/.*; trained: //'; }

cat > "$A/manifest.json" <<JSON
{
  "models": [
    {"id": "small-cnn-derm", "title": "Small CNN, synthetic dermoscopy (clean)", "file": "models/small-cnn-derm.bpk",
     "data": "derm", "training": "clean", "recipe": "$(recipe small-cnn-derm)", "generator": "models/small-cnn-derm-gap.bpk", "attention": false,
     "about": "A small VGG-style CNN (conv, batch norm, ReLU, pooling blocks) trained by robustdx on synthetic dermoscopy (benign vs malignant), 64×64, 3 epochs."},
    {"id": "attn-vgg-derm", "title": "AttnVGG (tiny), synthetic dermoscopy (clean)", "file": "models/attn-vgg-derm.bpk",
     "data": "derm", "training": "clean", "recipe": "$(recipe attn-vgg-derm)", "generator": null, "attention": true,
     "about": "The seed study's attention-gated VGG at its narrow width, trained on synthetic dermoscopy; shows its two attention maps before and after the attack."},
    {"id": "small-cnn-fundus", "title": "Small CNN, synthetic fundus grading (clean)", "file": "models/small-cnn-fundus.bpk",
     "data": "fundus", "training": "clean", "recipe": "$(recipe small-cnn-fundus)", "generator": null, "attention": false,
     "about": "A small VGG-style CNN grading synthetic fundus photographs 0–3 by lesion counts, 64×64, 3 epochs."},
    {"id": "small-cnn-derm-pgd-at", "title": "Small CNN, synthetic dermoscopy (PGD-AT, ε 4/255)", "file": "models/small-cnn-derm-pgd-at.bpk",
     "data": "derm", "training": "pgd-at", "recipe": "$(recipe small-cnn-derm-pgd-at)", "generator": null, "attention": false,
     "about": "The same small CNN trained only on PGD examples (Madry et al.): 5 steps at ε = 4/255 for every batch, 6 epochs."},
    {"id": "small-cnn-derm-mpadvt", "title": "Small CNN, synthetic dermoscopy (MPAdvT)", "file": "models/small-cnn-derm-mpadvt.bpk",
     "data": "derm", "training": "mpadvt", "recipe": "$(recipe small-cnn-derm-mpadvt)", "generator": null, "attention": false,
     "about": "The seed study's MPAdvT: half the batches replaced by PGD examples at a drawn ε (0.01–0.04) and step count (1–9), 6 epochs."},
    {"id": "small-cnn-derm-mart", "title": "Small CNN, synthetic dermoscopy (MAAdvT / MART, ε 4/255)", "file": "models/small-cnn-derm-mart.bpk",
     "data": "derm", "training": "mart", "recipe": "$(recipe small-cnn-derm-mart)", "generator": null, "attention": false,
     "about": "The seed study's MAAdvT (MART): boosted adversarial cross-entropy plus β·KL weighted toward misclassified images, 4 steps at ε = 4/255, 6 epochs."},
    {"id": "small-cnn-derm-gaussian", "title": "Small CNN, synthetic dermoscopy (Gaussian augmentation, σ 0.25)", "file": "models/small-cnn-derm-gaussian.bpk",
     "data": "derm", "training": "gaussian", "recipe": "$(recipe small-cnn-derm-gaussian)", "generator": null, "attention": false,
     "about": "The same small CNN trained on images plus Gaussian noise of σ = 0.25 (Cohen et al. 2019), 6 epochs: the base model randomized smoothing certifies. On clean images alone it is weak; smoothed at σ = 0.25 it is the model to certify."}
  ],
  "samples": [
$(IFS=,; printf '    %s\n' "${samples[*]}" | sed 's/}, *{/},\n    {/g')
  ],
  "cards": [
$(IFS=,; printf '    %s\n' "${cards[*]}" | sed 's/}, *{/},\n    {/g')
  ]
}
JSON
ls -la "$A"/* | sed 's/^/  /'
