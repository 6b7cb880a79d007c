//! Dataset files from the Hugging Face Hub (dataset repos) via `hf-hub`, with local paths as the offline fallback.
//!
//! A dataset argument is either a local path or `hf://datasets/OWNER/NAME/PATH/IN/REPO` (optionally
//! `…@REVISION`). Hub files land in the usual Hugging Face cache and are reused from there without network.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};

use crate::error::{Error, Result};

/// Prefix of Hub dataset references.
pub const HF_DATASETS: &str = "hf://datasets/";

/// Where and how to reach the Hub.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// Cache directory; `None` uses the Hugging Face default (`$HF_HOME/hub`).
    pub cache_dir: Option<PathBuf>,
    /// Endpoint; `None` uses `$HF_ENDPOINT` or `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// Access token; `None` uses the cached token, if any.
    pub token: Option<String>,
}

impl HubOptions {
    /// Hugging Face defaults from the environment.
    pub fn from_env() -> Self {
        Self {
            cache_dir: None,
            endpoint: std::env::var("HF_ENDPOINT").ok(),
            token: None,
        }
    }
}

/// A file in a Hub dataset repo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubFile {
    /// `owner/name`.
    pub repo: String,
    /// Path inside the repo.
    pub path: String,
    /// Branch, tag or commit (`main` by default).
    pub revision: String,
}

impl HubFile {
    /// Parses `hf://datasets/OWNER/NAME/PATH[@REVISION]`.
    pub fn parse(spec: &str) -> Option<Self> {
        let rest = spec.strip_prefix(HF_DATASETS)?;
        let (rest, revision) = match rest.rsplit_once('@') {
            Some((r, rev)) if !rev.contains('/') => (r, rev.to_string()),
            _ => (rest, "main".to_string()),
        };
        let mut parts = rest.splitn(3, '/');
        let (owner, name, path) = (parts.next()?, parts.next()?, parts.next()?);
        if owner.is_empty() || name.is_empty() || path.is_empty() {
            return None;
        }
        Some(Self {
            repo: format!("{owner}/{name}"),
            path: path.into(),
            revision,
        })
    }
}

fn api(options: &HubOptions) -> Result<hf_hub::api::sync::Api> {
    let mut builder = ApiBuilder::new().with_progress(false);
    if let Some(dir) = &options.cache_dir {
        builder = builder.with_cache_dir(dir.clone());
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    if options.token.is_some() {
        builder = builder.with_token(options.token.clone());
    }
    builder.build().map_err(|e| Error::Hub(e.to_string()))
}

fn unreachable_hint(file: &HubFile, err: impl std::fmt::Display) -> Error {
    Error::Hub(format!(
        "cannot fetch {} from dataset {}@{}: {err}; if the Hub is unreachable, download the file another way and \
         pass its local path instead",
        file.path, file.repo, file.revision
    ))
}

/// Downloads (or finds in the cache) one dataset file and returns its local path.
pub fn fetch(file: &HubFile, options: &HubOptions) -> Result<PathBuf> {
    let repo = Repo::with_revision(file.repo.clone(), RepoType::Dataset, file.revision.clone());
    api(options)?
        .repo(repo)
        .get(&file.path)
        .map_err(|e| unreachable_hint(file, e))
}

/// Files of a dataset repo whose paths match `pattern` (`*` matches any run of characters, including `/`).
pub fn list(
    repo: &str,
    revision: &str,
    pattern: &str,
    options: &HubOptions,
) -> Result<Vec<String>> {
    let file = HubFile {
        repo: repo.into(),
        path: pattern.into(),
        revision: revision.into(),
    };
    let info = api(options)?
        .repo(Repo::with_revision(
            repo.into(),
            RepoType::Dataset,
            revision.into(),
        ))
        .info()
        .map_err(|e| unreachable_hint(&file, e))?;
    Ok(info
        .siblings
        .into_iter()
        .map(|s| s.rfilename)
        .filter(|f| wildcard_match(pattern, f))
        .collect())
}

/// Resolves a dataset argument: a local path is returned as is, an `hf://datasets/…` reference is fetched.
pub fn resolve(spec: &str, options: &HubOptions) -> Result<PathBuf> {
    match HubFile::parse(spec) {
        Some(file) => fetch(&file, options),
        None if spec.starts_with("hf://") => Err(Error::Hub(format!(
            "{spec}: expected {HF_DATASETS}OWNER/NAME/PATH[@REVISION]"
        ))),
        None => {
            let path = Path::new(spec);
            if path.exists() {
                Ok(path.to_path_buf())
            } else {
                Err(Error::io(path, std::io::ErrorKind::NotFound.into()))
            }
        }
    }
}

/// Glob matching with `*` only.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dataset_references() {
        let f = HubFile::parse(
            "hf://datasets/Anthropic/hh-rlhf/red-team-attempts/red_team_attempts.jsonl.gz",
        )
        .unwrap();
        assert_eq!(f.repo, "Anthropic/hh-rlhf");
        assert_eq!(f.path, "red-team-attempts/red_team_attempts.jsonl.gz");
        assert_eq!(f.revision, "main");
        let f = HubFile::parse("hf://datasets/a/b/c.json@v1").unwrap();
        assert_eq!((f.path.as_str(), f.revision.as_str()), ("c.json", "v1"));
        assert_eq!(HubFile::parse("hf://datasets/a/b"), None);
        assert_eq!(HubFile::parse("/tmp/x.jsonl"), None);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "red-team-attempts/*.jsonl.gz",
            "red-team-attempts/red_team_attempts.jsonl.gz"
        ));
        assert!(!wildcard_match(
            "red-team-attempts/*.jsonl.gz",
            "helpful-base/train.jsonl.gz"
        ));
        assert!(wildcard_match("*", "anything/at/all"));
        assert!(wildcard_match("a*b*c", "aXbYc"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }
}
