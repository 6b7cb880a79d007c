//! Hub access offline: cached files resolve without network; an unreachable endpoint gives a clear error.

use cai_data::hub::{self, HubFile, HubOptions};

use crate::util::Dir;

fn offline(cache: &std::path::Path) -> HubOptions {
    HubOptions {
        cache_dir: Some(cache.to_path_buf()),
        endpoint: Some("http://127.0.0.1:9".into()),
        token: None,
    }
}

#[test]
fn cached_dataset_files_resolve_without_network() {
    let d = Dir::new();
    let repo_dir = d.path("datasets--Anthropic--hh-rlhf");
    let snapshot = repo_dir.join("snapshots/abc123/red-team-attempts");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs/main"), "abc123").unwrap();
    std::fs::write(snapshot.join("red_team_attempts.jsonl.gz"), b"cached").unwrap();
    let spec = "hf://datasets/Anthropic/hh-rlhf/red-team-attempts/red_team_attempts.jsonl.gz";
    let path = hub::resolve(spec, &offline(d.dir.path())).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"cached");
}

#[test]
fn unreachable_hub_is_reported_with_the_file() {
    let d = Dir::new();
    let file = HubFile {
        repo: "Anthropic/hh-rlhf".into(),
        path: "harmless-base/train.jsonl.gz".into(),
        revision: "main".into(),
    };
    let err = hub::fetch(&file, &offline(d.dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "hub: cannot fetch harmless-base/train.jsonl.gz from dataset Anthropic/hh-rlhf@main"
        ),
        "{err}"
    );
    let err = hub::list("Anthropic/hh-rlhf", "main", "*.gz", &offline(d.dir.path())).unwrap_err();
    assert!(err.to_string().contains("pass its local path"));
}

#[test]
fn local_paths_pass_through() {
    let d = Dir::new();
    let local = d.write("x.jsonl", "{}\n");
    assert_eq!(
        hub::resolve(local.to_str().unwrap(), &offline(d.dir.path())).unwrap(),
        local
    );
    assert!(
        hub::resolve(
            d.path("missing.jsonl").to_str().unwrap(),
            &offline(d.dir.path())
        )
        .is_err()
    );
    assert!(hub::resolve("hf://models/x/y/z", &offline(d.dir.path())).is_err());
}
