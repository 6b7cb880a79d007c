//! Stable hashes: of a prompt, of the settings that shape its generations, and of the pair (the
//! resume key), plus seeds derived from them so results never depend on batching or resumption.

use cai_data::RedTeamPrompt;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of `parts`, each length-prefixed so that part boundaries matter.
pub fn hash_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hash of a prompt's id and text.
pub fn prompt_hash(prompt: &RedTeamPrompt) -> String {
    hash_parts(&[prompt.id.as_bytes(), prompt.prompt.as_bytes()])
}

/// Resume key of a prompt under given settings: a hash of (prompt, settings).
pub fn result_key(settings_hash: &str, prompt_hash: &str) -> String {
    hash_parts(&[settings_hash.as_bytes(), prompt_hash.as_bytes()])
}

/// A 64-bit seed derived from the run seed, a hash and a purpose label.
pub fn derive_seed(seed: u64, hash: &str, purpose: &str) -> u64 {
    let digest = hash_parts(&[&seed.to_le_bytes(), hash.as_bytes(), purpose.as_bytes()]);
    u64::from_str_radix(&digest[..16], 16).expect("a SHA-256 hex digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_boundaries_and_every_input_change_the_hash() {
        assert_ne!(hash_parts(&[b"ab", b"c"]), hash_parts(&[b"a", b"bc"]));
        assert_eq!(hash_parts(&[b"x"]), hash_parts(&[b"x"]));
        assert_ne!(derive_seed(1, "h", "a"), derive_seed(2, "h", "a"));
        assert_ne!(derive_seed(1, "h", "a"), derive_seed(1, "h", "b"));
        assert_ne!(result_key("s1", "p"), result_key("s2", "p"));
    }
}
