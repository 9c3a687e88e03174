//! robustdx's own GPU kernels. Each is a CubeCL kernel run on burn's wgpu backend, with a plain
//! tensor-op twin in the core that runs everywhere else (and that the kernel is tested against).

mod pgd_step;

pub use pgd_step::fused_pgd_linf_step;
