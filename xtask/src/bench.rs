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
    let venv = std::env::var_os("CAI_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
            PathBuf::from(home).join(".cache/cai-rs/golden-venv")
        });
    let python = venv.join("bin/python");
    if !python.is_file() {
        eprintln!(
            "creating the PyTorch venv at {} (one-time, several minutes)",
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
                .arg(project_root().join("scripts/bench/requirements.txt"));
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
        // Throughput: higher is better (ours / theirs); memory: theirs / ours, so > 1 is better too.
        let r = if key.contains("rss") { b / a } else { a / b };
        ratio.insert(key.clone(), json!(r));
        println!("{key:<22} {a:>12.1} {b:>12.1} {r:>7.2}x");
    }
    let combined = json!({"ours": ours, "pytorch": torch, "ratio": ratio});
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&combined)?)?;
    println!("written to {}", path.display());
    Ok(())
}
