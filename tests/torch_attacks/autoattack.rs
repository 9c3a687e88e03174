//! AutoAttack against torchattacks' `AutoAttack` (`make_autoattack_golden.py`): the standard
//! members (APGD-CE, APGD-T, FAB-T, Square) at ε = 1/255 on the 10-class ResNet-18 fixture and
//! 32 photo crops, in two cases: torchattacks' `AutoAttack` as it is (10 iterations of APGD,
//! APGD-T and FAB, its defaults) against robustdx's suite with those settings, and the published
//! version's 100 iterations against robustdx's `version=standard`. The members draw different
//! random numbers on each side (torch's generator against robustdx's keyed draws), so the
//! agreement is statistical: the robust accuracy within one image, and each member's running
//! count within two.

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use robustdx_core::Label;
use robustdx_core::attack::{
    AttackContext, AttackSpec, AttackedModel, Convention, Goal, Norm, SampleKeys,
};
use robustdx_core::model::read_safetensors;

use super::{fixtures, golden_tensors, model_10_classes, on_two_threads};

/// The golden file's i64 tensor `name`.
fn integers(name: &str) -> Vec<i64> {
    let file = "autoattack_golden.safetensors";
    let bytes = std::fs::read(fixtures("attacks").join(file)).unwrap();
    let tensor = read_safetensors(&bytes, file)
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{file} has no {name}"));
    let raw = tensor.to_bytes().unwrap();
    match tensor.dtype {
        DType::I64 => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        other => panic!("{name}: unexpected {other:?}"),
    }
}

#[test]
fn autoattack_agrees_with_torchattacks_within_one_image() {
    // torchattacks' AutoAttack runs APGD, APGD-T and FAB at its default of 10 iterations.
    let as_torchattacks = serde_json::json!({
        "version": "custom",
        "attacks": "apgd:steps=10,apgd-t:steps=10,fab-t:steps=10,square",
    });
    agrees("torchattacks", as_torchattacks);
    agrees("published", serde_json::json!({}));
}

/// robustdx's suite with `settings` against the golden's `case`.
fn agrees(case: &str, settings: serde_json::Value) {
    let device = Device::flex();
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("attacks").join("autoattack_golden.json")).unwrap(),
    )
    .unwrap();
    let eps = index["eps_255"].as_f64().unwrap() as f32;
    let batch = index["images"].as_u64().unwrap() as usize;
    let images = golden_tensors("autoattack_golden.safetensors")["images"].clone();
    let images = Tensor::<4>::from_data(TensorData::new(images, [batch, 3, 64, 64]), &device);
    let labels: Vec<Label> = integers("labels")
        .into_iter()
        .map(|c| Label::Class(c as usize))
        .collect();
    let their_robust: Vec<bool> = integers(&format!("{case}.robust"))
        .into_iter()
        .map(|r| r == 1)
        .collect();
    let their_broken_by = integers(&format!("{case}.broken_by"));

    let model = model_10_classes(&device);
    let attacked = AttackedModel::new(&model, &device);
    let spec = AttackSpec::new(
        "autoattack",
        eps,
        Norm::Linf,
        Convention::Pixel,
        Goal::Untargeted,
        settings.as_object().unwrap(),
    )
    .unwrap();
    let members = spec.build(&AttackContext::default()).unwrap().members();
    let out = on_two_threads(|| {
        let suite = spec.build(&AttackContext::default()).unwrap();
        suite
            .perturb_detailed(
                &attacked,
                images.clone(),
                &labels,
                &SampleKeys::sequential(0, batch),
            )
            .unwrap()
    });
    let broken_by = out.broken_by.unwrap();
    let decided: Vec<i64> = attacked
        .logits(out.images)
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect();
    let our_robust: Vec<bool> = (0..batch)
        .map(|i| decided[i] == integers("labels")[i])
        .collect();
    let count = |flags: &[bool]| flags.iter().filter(|&&r| r).count();
    let (ours, theirs) = (count(&our_robust), count(&their_robust));
    // The running count of images standing after each member, on both sides (torchattacks
    // credits a clean-wrong image to its first member; so does this count).
    let clean_wrong = (0..batch)
        .filter(|&i| decided_clean(&attacked, &images, i) != integers("labels")[i])
        .count();
    let mut standing_ours = batch - clean_wrong;
    let mut standing_theirs = batch;
    let mut table = vec![];
    for (k, member) in members.iter().enumerate() {
        standing_ours -= broken_by
            .iter()
            .filter(|b| b.as_deref() == Some(member.as_str()))
            .count();
        standing_theirs -= their_broken_by.iter().filter(|&&b| b == k as i64).count();
        table.push((member.clone(), standing_ours, standing_theirs));
    }
    eprintln!("{case}: standing after each member (robustdx, torchattacks): {table:?}");
    assert!(
        ours.abs_diff(theirs) <= 1,
        "{case}: robust images: robustdx {ours}, torchattacks {theirs} of {batch} ({table:?})"
    );
    for (member, a, b) in &table {
        assert!(
            a.abs_diff(*b) <= 2,
            "{case}: after {member}: robustdx {a}, torchattacks {b} ({table:?})"
        );
    }
    // An image stands exactly when it was right before the attack and no member broke it.
    for i in 0..batch {
        let clean_correct = decided_clean(&attacked, &images, i) == integers("labels")[i];
        assert_eq!(
            our_robust[i],
            clean_correct && broken_by[i].is_none(),
            "{case}: image {i}"
        );
    }
}

fn decided_clean(attacked: &AttackedModel, images: &Tensor<4>, i: usize) -> i64 {
    attacked
        .logits(images.clone().narrow(0, i, 1))
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .next()
        .unwrap()
}
