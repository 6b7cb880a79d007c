//! Start-up of a command-line program: logging and the allocator.

/// Sets up a command-line program; every stage's binary calls it first. Sends `tracing` logs to
/// stderr, filtered by `RUST_LOG` (default `info`), and keeps freed tensor memory for reuse
/// ([`retain_freed_memory`](crate::allocator::retain_freed_memory)).
pub fn init_process() {
    crate::allocator::retain_freed_memory();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
