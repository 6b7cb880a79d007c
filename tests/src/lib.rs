//! `cai-e2e`: end-to-end tests across the cai-rs crates, with no mocks: real `cai-serve` servers
//! on 127.0.0.1 (ephemeral ports) over the default SmolLM2 model drive the stages through their
//! library entry points. The tests are in `tests/`; this library holds their shared fixtures.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};

use cai_model::{Engine, LoadOptions, LoadedModel, ModelSpec};
use cai_serve::{RunningServer, ServerConfig};

/// The default SmolLM2 model on the CPU, loaded once per test binary.
pub fn model() -> &'static Arc<LoadedModel> {
    static MODEL: OnceLock<Arc<LoadedModel>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let model = LoadedModel::load(&ModelSpec::Default, &LoadOptions::default())
            .expect("loading the default model (cargo xtask fetch-model)");
        Arc::new(model)
    })
}

/// The in-process engine over [`model`], shared by every server of the test binary.
pub fn engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| Arc::new(Engine::new(model().clone())))
}

/// Starts a real cai-serve server over [`engine`] on a free loopback port (stopped on drop).
pub fn start_server() -> RunningServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    RunningServer::start(engine().clone(), ServerConfig::new("smollm2"), addr)
        .expect("starting cai-serve")
}

/// `http://127.0.0.1:PORT` where nothing listens (a port bound, then released).
pub fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    drop(listener);
    format!("http://{addr}")
}
