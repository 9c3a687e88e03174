//! The Slurm recipe on a real (one-machine) Slurm: `scripts/slurm/local-cluster.sh` starts
//! munge, slurmctld and slurmd; `scripts/slurm/submit.sh` runs a 3-shard sweep as a job array and
//! merges it in a dependent job; the merged result equals a single-process run. Skipped, saying
//! why on the terminal, only outside CI where Slurm is not installed or robustdx does not run as
//! root (slurmd needs it); under `CI=true` either is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/slurm")
        .join(name)
}

fn robustdx(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_robustdx"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("robustdx runs");
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

/// Why Slurm cannot run here, if it cannot.
fn missing() -> Option<String> {
    for tool in ["munged", "mungekey", "slurmctld", "slurmd", "sbatch"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "{tool} is not installed (apt-get install slurmd slurmctld munge)"
            ));
        }
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    (!root).then(|| "slurmd needs root".to_string())
}

/// Whether this is a CI run (`CI=true`, as CI services and `.ci/` set it), where the Slurm test
/// must run.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// What the test does where Slurm cannot run (`why`): outside CI, skip, with a line to show on
/// the terminal; in CI, fail.
fn skip_outside_ci(why: &str, ci: bool) -> Result<String, String> {
    match ci {
        false => Ok(format!(
            "slurm test skipped: {why} (under CI=true this is a failure)"
        )),
        true => Err(format!("CI=true, but the Slurm test cannot run: {why}")),
    }
}

/// Stops the cluster however the test ends.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script("local-cluster.sh"))
            .arg("stop")
            .arg(&self.0)
            .output();
    }
}

#[test]
fn only_outside_ci_may_the_slurm_test_skip() {
    let skip = skip_outside_ci("sbatch is not installed", false).unwrap();
    assert!(skip.contains("skipped: sbatch is not installed"), "{skip}");
    let failure = skip_outside_ci("slurmd needs root", true).unwrap_err();
    assert!(failure.contains("CI=true") && failure.contains("slurmd needs root"));
}

#[test]
fn a_sweep_sharded_over_a_slurm_job_array_equals_one_run() {
    if let Some(why) = missing() {
        match skip_outside_ci(&why, in_ci()) {
            // Written to the process's stderr itself: libtest swallows what a passing test
            // prints with println! or eprintln!, and a silent skip reads as a pass.
            Ok(line) => {
                let _ = writeln!(std::io::stderr(), "{line}");
                return;
            }
            Err(failure) => panic!("{failure}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cluster_dir = d.join("cluster");
    let started = Command::new("bash")
        .arg(script("local-cluster.sh"))
        .arg("start")
        .arg(&cluster_dir)
        .output()
        .unwrap();
    let _cluster = Cluster(cluster_dir.clone());
    assert!(
        started.status.success(),
        "Slurm did not start: {}",
        text(&started)
    );

    let data = "synth-derm:n=32,test=12,size=32,seed=3";
    robustdx(
        d,
        &[
            "train",
            "--backend",
            "cpu",
            "--data",
            data,
            "--image-size",
            "32",
            "--width",
            "8",
            "--epochs",
            "1",
            "--out",
            "m.bpk",
        ],
    );
    let flags = "--backend cpu --attack fgsm,pgd --eps 0,4 --steps 2";
    let mut single: Vec<&str> = vec!["attack", "--model", "m.bpk", "--data", data];
    single.extend(flags.split(' '));
    single.extend(["--json", "single.json"]);
    robustdx(d, &single);

    let submitted = Command::new("bash")
        .arg(script("submit.sh"))
        .arg("3")
        .current_dir(d)
        .env("SLURM_CONF", cluster_dir.join("slurm.conf"))
        .env("MODEL", "m.bpk")
        .env("DATA", data)
        .env("OUT", "results")
        .env("ROBUSTDX", env!("CARGO_BIN_EXE_robustdx"))
        .env("ATTACK_FLAGS", flags)
        .env("SBATCH_FLAGS", "--cpus-per-task=1")
        .env("WAIT", "1")
        .output()
        .unwrap();
    let logs = || {
        (0..3)
            .map(|i| d.join(format!("results/shard-{i}.log")))
            .chain([d.join("results/merge.log")])
            .map(|p| std::fs::read_to_string(&p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        submitted.status.success(),
        "{}\n{}",
        text(&submitted),
        logs()
    );
    assert!(
        text(&submitted).contains("array job"),
        "{}",
        text(&submitted)
    );
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(p)).unwrap()).unwrap()
    };
    let (whole, merged) = (read("single.json"), read("results/sweep.json"));
    assert_eq!(merged["results"], whole["results"], "{}", logs());
    assert_eq!(merged["data"], whole["data"]);
    assert_eq!(merged["results"].as_array().unwrap().len(), 4);
}
