//! `cargo xtask bench <name>`: runs our side (a release `cargo bench` target) and the PyTorch side
//! (a pinned Python venv) of a benchmark in one invocation, on 2 threads each, and writes
//! `target/bench/<name>.json` = `{"ours": {...}, "pytorch": {...}, "ratio": {...}}`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::{cargo, fetch_model_command, project_root, run};

/// The Python venv with torch/transformers (shared with the golden-fixture script).
pub fn python_venv() -> Result<PathBuf> {
    venv(
        "CAI_PY_VENV",
        "golden-venv",
        "scripts/bench/requirements.txt",
    )
}

/// The Python venv with llama-cpp-python (the second anchor of `bench generate`).
fn llama_cpp_venv() -> Result<PathBuf> {
    venv(
        "CAI_LLAMA_CPP_VENV",
        "llama-cpp-venv",
        "scripts/bench/requirements-llama.txt",
    )
}

/// The `python` of the venv at `$env_var` or `~/.cache/cai-rs/<name>`, created from
/// `requirements` (a path in the repository) the first time.
fn venv(env_var: &str, name: &str, requirements: &str) -> Result<PathBuf> {
    let venv = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
            PathBuf::from(home).join(".cache/cai-rs").join(name)
        });
    let python = venv.join("bin/python");
    if !python.is_file() {
        eprintln!(
            "creating the venv at {} from {requirements} (one-time, several minutes)",
            venv.display()
        );
        run({
            let mut cmd = Command::new("python3");
            cmd.args(["-m", "venv"]).arg(&venv);
            cmd
        })?;
        run({
            let mut cmd = Command::new(venv.join("bin/pip"));
            cmd.args(["install", "-q", "-r"])
                .arg(project_root().join(requirements));
            cmd
        })?;
    }
    Ok(python)
}

fn default_model() -> Result<PathBuf> {
    let out = fetch_model_command()
        .output()
        .context("running cai-model fetch")?;
    if !out.status.success() {
        bail!(
            "cai-model fetch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Runs benchmark `name` (bench target `name` of `package`, script `scripts/bench/<name>_torch.py`).
pub fn bench(name: &str, package: &str) -> Result<()> {
    let dir = project_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let gguf = default_model()?;
    let python = python_venv()?;
    let ours_path = dir.join(format!("{name}-ours.json"));
    let torch_path = dir.join(format!("{name}-pytorch.json"));

    let mut ours = cargo(&["bench", "-p", package, "--bench", name, "--"]);
    ours.arg(&ours_path).env("RAYON_NUM_THREADS", "2");
    run(ours)?;
    let mut torch = Command::new(python);
    torch
        .arg(project_root().join(format!("scripts/bench/{name}_torch.py")))
        .arg(&gguf)
        .arg(&torch_path)
        .env("OMP_NUM_THREADS", "2")
        .env("MKL_NUM_THREADS", "2");
    run(torch)?;

    let ours = read_json(&ours_path)?;
    let torch = read_json(&torch_path)?;
    let mut ratio = Map::new();
    println!(
        "{:<22} {:>12} {:>12} {:>8}",
        "metric", "ours", "pytorch", "ratio"
    );
    for (key, value) in ours.as_object().into_iter().flatten() {
        let (Some(a), Some(b)) = (value.as_f64(), torch.get(key).and_then(Value::as_f64)) else {
            continue;
        };
        if key == "threads" {
            continue;
        }
        let r = ours_over_theirs(key, a, b);
        ratio.insert(key.clone(), json!(r));
        println!("{key:<22} {a:>12.1} {b:>12.1} {r:>7.2}x");
    }
    let combined = json!({"ours": ours, "pytorch": torch, "ratio": ratio});
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&combined)?)?;
    println!("written to {}", path.display());
    Ok(())
}

/// `cargo xtask bench serve`: the server under 16 concurrent clients with mixed lengths, static
/// against continuous batching, in one run (`target/bench/serve.json`).
pub fn bench_serve() -> Result<()> {
    let path = project_root().join("target/bench/serve.json");
    default_model()?;
    let mut cmd = cargo(&["bench", "-p", "cai-serve", "--bench", "serve", "--"]);
    cmd.arg(&path).env("RAYON_NUM_THREADS", "2");
    run(cmd)?;
    println!("written to {}", path.display());
    Ok(())
}

/// Ours over theirs for metric `key`, so that > 1 is better for us: throughput as ours / theirs,
/// memory as theirs / ours.
fn ours_over_theirs(key: &str, ours: f64, theirs: f64) -> f64 {
    if key.contains("rss") {
        theirs / ours
    } else {
        ours / theirs
    }
}

/// The half-size weights `bench generate` measures as `ours_half`.
const HALF_DTYPE: &str = "f16";

/// The engines of `target/bench/generate.json`, in the order they run.
const GENERATE_ENGINES: [&str; 5] = [
    "ours",
    "ours_half",
    "pytorch",
    "llama_cpp_f32",
    "llama_cpp_q4_1",
];

/// `cargo xtask bench generate`: ours in f32 and with half-size weights, PyTorch, and llama.cpp on
/// the f32 and Q4_1 files, one process each, in one invocation. `target/bench/generate.json` holds
/// one object per engine (metrics an engine cannot run are absent);
/// `target/bench/generate-ratios.json` holds ours over each anchor.
pub fn bench_generate() -> Result<()> {
    let dir = project_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let gguf = default_model()?;
    let torch = python_venv()?;
    let llama = llama_cpp_venv()?;
    let path = |engine: &str| dir.join(format!("generate-{engine}.json"));
    let ours = |engine: &str, dtype: &str| -> Result<()> {
        let mut cmd = cargo(&["bench", "-p", "cai-model", "--bench", "generate", "--"]);
        cmd.arg(path(engine))
            .args(["--dtype", dtype])
            .env("RAYON_NUM_THREADS", "2");
        run(cmd)
    };
    ours("ours", "f32")?;
    ours("ours_half", HALF_DTYPE)?;
    let script = |name: &str| project_root().join("scripts/bench").join(name);
    let python = |python: &Path, args: Vec<std::ffi::OsString>| -> Result<()> {
        let mut cmd = Command::new(python);
        cmd.args(args)
            .env("OMP_NUM_THREADS", "2")
            .env("MKL_NUM_THREADS", "2");
        run(cmd)
    };
    python(
        &torch,
        vec![
            script("generate_torch.py").into(),
            gguf.clone().into(),
            path("pytorch").into(),
        ],
    )?;
    for (engine, kind) in [("llama_cpp_f32", "f32"), ("llama_cpp_q4_1", "q4_1")] {
        python(
            &llama,
            vec![
                script("generate_llama_cpp.py").into(),
                gguf.clone().into(),
                kind.into(),
                path(engine).into(),
            ],
        )?;
    }
    let mut all = Map::new();
    for engine in GENERATE_ENGINES {
        all.insert(engine.to_string(), read_json(&path(engine))?);
    }
    let ratios = generate_ratios(&all);
    std::fs::write(
        dir.join("generate.json"),
        serde_json::to_string_pretty(&all)?,
    )?;
    std::fs::write(
        dir.join("generate-ratios.json"),
        serde_json::to_string_pretty(&ratios)?,
    )?;
    println!("written to {}", dir.join("generate.json").display());
    Ok(())
}

/// The metrics `generate.json` reports for every engine that can run them.
const GENERATE_METRICS: [&str; 6] = [
    "prefill_b1_tok_s",
    "prefill_b8_tok_s",
    "decode_b1_tok_s",
    "decode_b8_tok_s",
    "rollout_b32_tok_s",
    "peak_rss_mib",
];

/// Prints every engine's metrics and returns `{ours, ours_half} × {anchor}` ratios (> 1 is better
/// for us; memory as theirs over ours).
fn generate_ratios(all: &Map<String, Value>) -> Value {
    let metric = |engine: &str, key: &str| all.get(engine).and_then(|e| e.get(key))?.as_f64();
    print!("{:<20}", "metric");
    for engine in GENERATE_ENGINES {
        print!(" {engine:>15}");
    }
    println!();
    for key in GENERATE_METRICS {
        print!("{key:<20}");
        for engine in GENERATE_ENGINES {
            match metric(engine, key) {
                Some(v) => print!(" {v:>15.1}"),
                None => print!(" {:>15}", "-"),
            }
        }
        println!();
    }
    let mut ratios = Map::new();
    for ours in ["ours", "ours_half"] {
        for anchor in ["pytorch", "llama_cpp_f32", "llama_cpp_q4_1"] {
            let mut row = Map::new();
            for key in GENERATE_METRICS {
                if let (Some(a), Some(b)) = (metric(ours, key), metric(anchor, key)) {
                    row.insert(key.to_string(), json!(ours_over_theirs(key, a, b)));
                }
            }
            println!("{ours} / {anchor}: {}", Value::Object(row.clone()));
            ratios.insert(format!("{ours}/{anchor}"), Value::Object(row));
        }
    }
    Value::Object(ratios)
}
