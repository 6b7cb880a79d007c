//! Rayon's global pool with the program's main thread in it.
//!
//! The decoder's kernels split every product over rayon's pool. Called from a thread outside the
//! pool, each call hands its parts to the pool's threads and sleeps until they are done; a decode
//! step makes some 200 such calls, a training step thousands, and each costs the caller a sleep and
//! a wake-up. [`compute_on_this_thread`] makes the calling thread the pool's first worker instead,
//! so a parallel call runs part of the work on it and only the rest on the other workers. Decoding
//! at batch 8 on 2 threads ran ~10 % faster that way in interleaved runs (docs/performance.md,
//! "The main thread in the pool").

/// Makes the calling thread worker 0 of rayon's global pool, which keeps its usual size
/// (`RAYON_NUM_THREADS`, else one thread per CPU, this one included). For programs whose heavy
/// work runs on the main thread (training, PPO, evaluation); not for those that compute on other
/// threads while it waits (the server, the generator threads of critique and labelling): there
/// the pool would lose a worker. Call it first, before anything uses rayon; if the pool was
/// built already, it stays as it is.
pub fn compute_on_this_thread() {
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global()
    {
        tracing::debug!("rayon's pool was built already: {e}");
    }
}
