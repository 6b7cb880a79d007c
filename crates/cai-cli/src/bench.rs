//! Small helpers shared by the benchmarks of every crate (ours and the PyTorch scripts use the
//! same workloads).

/// Deterministic pseudo-text token ids for benchmark row `row` (the PyTorch scripts use the same
/// formula, so both sides see identical inputs).
pub fn pseudo_text_ids(row: usize, len: usize) -> Vec<u32> {
    (0..len)
        .map(|i| ((i * 7919 + row * 104_729) % 48_000 + 100) as u32)
        .collect()
}

/// Peak resident set size of this process in MiB (`VmHWM`; 0 where /proc is unavailable).
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
