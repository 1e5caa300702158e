//! Where the networks run: CUDA when this build has it (the `cuda` cargo feature) and a GPU
//! answers, else the CPU — with a sentence saying which and why, for the status bar and logs.

use candle_core::Device;

/// The device and a human-readable description of the choice.
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    pub device: Device,
    pub description: String,
}

impl DeviceChoice {
    pub fn cpu(why: &str) -> Self {
        Self {
            device: Device::Cpu,
            description: format!("CPU ({why})"),
        }
    }

    pub fn is_cuda(&self) -> bool {
        self.device.is_cuda()
    }
}

/// CUDA device 0 if compiled in and present (unless `force_cpu`), else the CPU.
pub fn select(force_cpu: bool) -> DeviceChoice {
    if force_cpu {
        return DeviceChoice::cpu("asked for");
    }
    if !candle_core::utils::cuda_is_available() {
        return DeviceChoice::cpu("this build has no CUDA; build with --features cuda for the GPU");
    }
    match Device::new_cuda(0) {
        Ok(device) => DeviceChoice {
            device,
            description: "CUDA GPU 0".into(),
        },
        Err(e) => DeviceChoice::cpu(&format!("CUDA is built in but no GPU answered: {e}")),
    }
}
