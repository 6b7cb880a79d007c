//! `cargo xtask tidy`: the workspace's structural rules (ARCHITECTURE.md, "Invariants"), checked
//! from `cargo metadata` and the sources, so a change that breaks one fails CI with its name.
//!
//! - No stage crate depends on another stage crate; no shared crate depends on a stage crate.
//! - cai-model's normal dependency tree has no process crates (clap, tracing-subscriber; and no
//!   indicatif of its own — hf-hub's download path brings one): those live in cai-cli.
//! - cai-data and cai-client build without burn.
//! - Only cai-model and cai-train name the kernels module (`cai_model::kernels`).
//! - No Rust source file is longer than 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo, project_root};

/// One crate per pipeline stage (and the server); none may depend on another.
pub const STAGE_CRATES: &[&str] = &[
    "cai-critique",
    "cai-sft",
    "cai-preference",
    "cai-rm",
    "cai-ppo",
    "cai-eval",
    "cai-serve",
];

/// The crates every stage may build on; none may depend on a stage.
pub const SHARED_CRATES: &[&str] = &[
    "cai-model",
    "cai-train",
    "cai-data",
    "cai-client",
    "cai-cli",
    "cai-backend",
    "cai-judge",
];

/// Crates that may name the kernels module.
const KERNEL_USERS: &[&str] = &["cai-model", "cai-train"];

/// Process concerns the model core must not pull in.
const PROCESS_CRATES: &[&str] = &["clap", "indicatif", "tracing-subscriber"];

/// Crates that must build without burn (data formats and the HTTP client).
const BURN_FREE: &[&str] = &["cai-data", "cai-client"];

/// Longest allowed source file, in lines.
const MAX_LINES: usize = 600;

/// The workspace's direct dependencies: package name → (normal ones, those of any kind).
struct Graph {
    normal: BTreeMap<String, BTreeSet<String>>,
    any: BTreeMap<String, BTreeSet<String>>,
    members: BTreeMap<String, PathBuf>,
}

impl Graph {
    fn load() -> Result<Self> {
        let out = cargo(&["metadata", "--format-version", "1", "--locked"])
            .output()
            .context("running cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let meta: Value = serde_json::from_slice(&out.stdout)?;
        let names: BTreeMap<&str, &str> = meta["packages"]
            .as_array()
            .context("packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let mut members = BTreeMap::new();
        for id in meta["workspace_members"].as_array().context("members")? {
            let id = id.as_str().context("member id")?;
            let package = meta["packages"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["id"] == id))
                .context("member package")?;
            let manifest = PathBuf::from(package["manifest_path"].as_str().context("manifest")?);
            let dir = manifest.parent().context("manifest dir")?.to_path_buf();
            members.insert(names[id].to_string(), dir);
        }
        let (mut normal, mut any) = (BTreeMap::new(), BTreeMap::new());
        for node in meta["resolve"]["nodes"].as_array().context("resolve")? {
            let name = names[node["id"].as_str().context("node id")?].to_string();
            let (n, a): (&mut BTreeSet<String>, &mut BTreeSet<String>) = (
                normal.entry(name.clone()).or_default(),
                any.entry(name).or_default(),
            );
            for dep in node["deps"].as_array().context("deps")? {
                let dep_name = names[dep["pkg"].as_str().context("dep id")?].to_string();
                let kinds = dep["dep_kinds"].as_array().context("dep kinds")?;
                if kinds.iter().any(|k| k["kind"].is_null()) {
                    n.insert(dep_name.clone());
                }
                a.insert(dep_name);
            }
        }
        Ok(Self {
            normal,
            any,
            members,
        })
    }
}

/// Every crate `root` reaches through normal dependencies, with the features a build of `root`
/// alone would enable (`cargo tree`; `cargo metadata`'s resolve unifies the whole workspace's).
fn normal_closure(root: &str) -> Result<BTreeSet<String>> {
    let out = cargo(&[
        "tree", "-p", root, "-e", "normal", "--prefix", "none", "--format", "{p}",
    ])
    .output()
    .context("running cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {root} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != root)
        .map(String::from)
        .collect())
}

/// Runs every check and reports all violations at once.
pub fn tidy() -> Result<()> {
    let graph = Graph::load()?;
    let mut problems = Vec::new();
    for (name, deps) in &graph.any {
        if !graph.members.contains_key(name) {
            continue;
        }
        let stage = STAGE_CRATES.contains(&name.as_str());
        let shared = SHARED_CRATES.contains(&name.as_str());
        for dep in deps.iter().filter(|d| STAGE_CRATES.contains(&d.as_str())) {
            if stage {
                problems.push(format!("stage crate {name} depends on stage crate {dep}"));
            } else if shared {
                problems.push(format!("shared crate {name} depends on stage crate {dep}"));
            }
        }
    }
    let model_tree = normal_closure("cai-model")?;
    let model_direct = graph.normal.get("cai-model").cloned().unwrap_or_default();
    for process in PROCESS_CRATES {
        // hf-hub's `ureq` download path brings its own indicatif; the rule is about ours.
        let reached = if *process == "indicatif" {
            model_direct.contains(*process)
        } else {
            model_tree.contains(*process)
        };
        if reached {
            problems.push(format!(
                "cai-model depends on {process} (process concerns belong in cai-cli)"
            ));
        }
    }
    for crate_name in BURN_FREE {
        let tree = normal_closure(crate_name)?;
        if let Some(burn) = tree.iter().find(|d| d.starts_with("burn")) {
            problems.push(format!(
                "{crate_name} depends on {burn} (it must build without burn)"
            ));
        }
    }
    for (name, dir) in &graph.members {
        let files = rust_files(dir)?;
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let shown = file.strip_prefix(project_root()).unwrap_or(&file).display();
            let lines = text.lines().count();
            if lines > MAX_LINES {
                problems.push(format!("{shown}: {lines} lines (at most {MAX_LINES})"));
            }
            let checked = !KERNEL_USERS.contains(&name.as_str()) && name != "xtask";
            if checked && names_kernels(&text) {
                problems.push(format!(
                    "{shown}: uses cai_model::kernels (only {} may)",
                    KERNEL_USERS.join(" and ")
                ));
            }
        }
    }
    if problems.is_empty() {
        eprintln!("tidy: {} crates, all rules hold", graph.members.len());
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy rule violations", problems.len())
}

/// Whether a source names the kernels module of cai-model.
fn names_kernels(text: &str) -> bool {
    let flat: String = text.split_whitespace().collect();
    flat.contains("cai_model::kernels")
        || flat.match_indices("cai_model::{").any(|(at, _)| {
            flat[at..]
                .split('}')
                .next()
                .is_some_and(|g| g.contains("kernels"))
        })
}

/// The `.rs` files under `dir`, skipping build outputs and nested packages' targets.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "fixtures" | "corpus" | "artifacts") {
                    todo.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_paths_are_found_in_any_spelling() {
        assert!(names_kernels("use cai_model::kernels::fused;"));
        assert!(names_kernels(
            "use cai_model::{\n    CausalLm,\n    kernels::fused,\n};"
        ));
        assert!(!names_kernels(
            "use cai_model::{CausalLm, TokenBatch};\nmod kernels;"
        ));
    }
}
