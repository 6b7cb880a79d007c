//! Process-wide on/off switches for the hand-written CPU kernels, read from an environment
//! variable on first use (so speed and numerics can be compared with burn's own ops).

use std::sync::atomic::{AtomicU8, Ordering};

/// A switch that starts as its environment variable says (on unless it is `0`).
pub struct KernelSwitch {
    /// 0 = not read yet, 1 = on, 2 = off.
    state: AtomicU8,
    /// The environment variable that turns the kernels off when `0`.
    var: &'static str,
}

impl KernelSwitch {
    /// A switch read from `var`.
    pub const fn new(var: &'static str) -> Self {
        Self {
            state: AtomicU8::new(0),
            var,
        }
    }

    /// Turns the kernels on or off for the whole process.
    pub fn set(&self, on: bool) {
        self.state.store(if on { 1 } else { 2 }, Ordering::Relaxed);
    }

    /// Whether the kernels are on.
    pub fn enabled(&self) -> bool {
        match self.state.load(Ordering::Relaxed) {
            0 => {
                let on = std::env::var(self.var).map_or(true, |v| v != "0");
                self.set(on);
                on
            }
            state => state == 1,
        }
    }
}
