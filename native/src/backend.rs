//! Which device runs the work: a GPU through wgpu when there is one, burn's CPU backend (flex)
//! otherwise. One line on stderr says what was picked and why.

use burn::tensor::{Device, DeviceKind};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU through wgpu if one exists, else the CPU backend.
    Auto,
    /// wgpu (Vulkan / Metal / DX12), whatever adapter it offers, software ones included.
    Wgpu,
    /// burn's pure-Rust CPU backend (flex).
    Cpu,
}

/// The device for `choice`, or an error when `wgpu` was demanded and none can be had.
pub fn select(choice: BackendChoice) -> anyhow::Result<Device> {
    match choice {
        BackendChoice::Cpu => {
            eprintln!("backend: cpu (flex), as asked");
            Ok(Device::flex())
        }
        BackendChoice::Wgpu => {
            let (device, adapter) =
                init_wgpu().map_err(|e| anyhow::anyhow!("--backend wgpu: no wgpu adapter: {e}"))?;
            eprintln!("backend: wgpu on {adapter}, as asked");
            Ok(device)
        }
        BackendChoice::Auto => match init_wgpu() {
            Ok((device, adapter)) if !adapter.software => {
                eprintln!("backend: wgpu on {adapter} (override with --backend cpu)");
                Ok(device)
            }
            // A software Vulkan adapter (lavapipe, SwiftShader) is the CPU pretending to be a GPU:
            // burn's own CPU backend is several times faster there.
            Ok((_, adapter)) => {
                eprintln!(
                    "backend: cpu (flex): the only wgpu adapter is a software one ({adapter}); \
                     force it with --backend wgpu"
                );
                Ok(Device::flex())
            }
            Err(e) => {
                eprintln!("backend: cpu (flex): no GPU adapter found ({e})");
                Ok(Device::flex())
            }
        },
    }
}

/// The devices of `devices` data-parallel replicas, `main` first. The CPU backend has one
/// device: the replicas share it, each on a thread of its own. On wgpu the others are discrete
/// GPUs 1 to `devices` − 1 (`main` being wgpu's default, the first high-power GPU); a missing
/// one is an error rather than a second replica on a busy GPU.
pub fn replicas(main: &Device, devices: usize) -> anyhow::Result<Vec<Device>> {
    if devices == 1 {
        return Ok(vec![main.clone()]);
    }
    if backend_name(main) == "cpu" {
        eprintln!(
            "devices: {devices} replicas on the one CPU device, each batch in {devices} parts on \
             {devices} threads"
        );
        return Ok(vec![main.clone(); devices]);
    }
    let mut replicas = vec![main.clone()];
    for index in 1..devices {
        let (device, name) = discrete_gpu(index).map_err(|e| {
            anyhow::anyhow!(
                "--devices {devices}: wgpu has no discrete GPU {index} for replica {} ({e})",
                index + 1
            )
        })?;
        eprintln!("devices: replica {} on {name}", index + 1);
        replicas.push(device);
    }
    Ok(replicas)
}

/// wgpu's discrete GPU `index` and its adapter's name, set up once per process like
/// [`init_wgpu`]'s device (`compare defenses` trains several models).
fn discrete_gpu(index: usize) -> anyhow::Result<(Device, String)> {
    type Setups = std::collections::BTreeMap<usize, Result<(Device, String), String>>;
    static GPUS: std::sync::Mutex<Setups> = std::sync::Mutex::new(Setups::new());
    let mut gpus = GPUS.lock().unwrap_or_else(|e| e.into_inner());
    gpus.entry(index)
        .or_insert_with(|| {
            Device::wgpu_options()
                .device_kind(DeviceKind::DiscreteGpu(index))
                .init_with_setup()
                .map(|(device, setup)| (device, setup.adapter.get_info().name))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// A wgpu adapter, described for people.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub name: String,
    pub api: String,
    pub software: bool,
}

impl std::fmt::Display for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} via {}", self.name, self.api)
    }
}

/// wgpu can be set up once per process; commands that chain others (`demo`) ask again.
fn init_wgpu() -> anyhow::Result<(Device, Adapter)> {
    static WGPU: std::sync::OnceLock<Result<(Device, Adapter), String>> =
        std::sync::OnceLock::new();
    WGPU.get_or_init(|| init_wgpu_once().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn init_wgpu_once() -> anyhow::Result<(Device, Adapter)> {
    // A missing adapter panics on a background thread in some drivers; `init` returns an error
    // instead, which is what lets us fall back.
    let (device, setup) = Device::wgpu_options()
        .device_kind(DeviceKind::DefaultDevice)
        .init_with_setup()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let info = setup.adapter.get_info();
    let adapter = Adapter {
        name: info.name.clone(),
        api: format!("{:?}", setup.backend),
        // `DeviceType::Cpu` marks software rasterisers; compared by name so the binary needs no
        // direct wgpu dependency that would have to track burn's.
        software: format!("{:?}", info.device_type) == "Cpu",
    };
    Ok((device, adapter))
}

/// A one-line name of the backend `device` runs on.
pub fn backend_name(device: &Device) -> &'static str {
    if format!("{device:?}").to_lowercase().contains("wgpu") {
        "wgpu"
    } else {
        "cpu"
    }
}
