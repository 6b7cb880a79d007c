//! Blending SL-CAI samples with helpfulness data: all of both by default (NeMo), or a chosen number
//! of helpfulness samples per SL-CAI sample, shuffled with the run seed.

use cai_data::ChatSample;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::key;

/// How many helpfulness samples a blend of `cai` SL-CAI samples takes out of `available`.
pub fn helpfulness_count(cai: usize, available: usize, ratio: Option<f64>) -> usize {
    match ratio {
        None => available,
        Some(r) => ((cai as f64 * r).round() as usize).min(available),
    }
}

/// The blend: a seeded subset of `helpful` (see [`helpfulness_count`]) and all of `cai`, shuffled
/// together with `seed`.
pub fn blend(
    cai: &[ChatSample],
    helpful: &[ChatSample],
    ratio: Option<f64>,
    seed: u64,
) -> Vec<ChatSample> {
    let take = helpfulness_count(cai.len(), helpful.len(), ratio);
    let mut chosen: Vec<&ChatSample> = helpful.iter().collect();
    if take < helpful.len() {
        chosen.shuffle(&mut rng(seed, "helpfulness-subset"));
        chosen.truncate(take);
    }
    let mut out: Vec<ChatSample> = chosen.into_iter().chain(cai).cloned().collect();
    out.shuffle(&mut rng(seed, "blend"));
    out
}

fn rng(seed: u64, purpose: &str) -> StdRng {
    StdRng::seed_from_u64(key::derive_seed(seed, "", purpose))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cai_data::Message;

    fn samples(dataset: &str, n: usize) -> Vec<ChatSample> {
        (0..n)
            .map(|i| {
                ChatSample::from_messages(
                    &[Message::user(format!("{i}")), Message::assistant("a")],
                    dataset,
                )
            })
            .collect()
    }

    fn count(blend: &[ChatSample], dataset: &str) -> usize {
        blend.iter().filter(|s| s.dataset == dataset).count()
    }

    #[test]
    fn default_takes_all_of_both() {
        let b = blend(&samples("cai", 10), &samples("help", 25), None, 1);
        assert_eq!((count(&b, "cai"), count(&b, "help")), (10, 25));
    }

    #[test]
    fn ratio_sets_helpfulness_per_cai_sample_capped_by_what_exists() {
        let (cai, help) = (samples("cai", 10), samples("help", 25));
        assert_eq!(count(&blend(&cai, &help, Some(1.5), 1), "help"), 15);
        assert_eq!(count(&blend(&cai, &help, Some(0.0), 1), "help"), 0);
        assert_eq!(count(&blend(&cai, &help, Some(9.0), 1), "help"), 25);
        assert_eq!(count(&blend(&cai, &help, Some(1.5), 1), "cai"), 10);
    }

    #[test]
    fn shuffle_is_seeded_and_mixes_the_sources() {
        let (cai, help) = (samples("cai", 20), samples("help", 20));
        let a = blend(&cai, &help, Some(0.5), 3);
        assert_eq!(a, blend(&cai, &help, Some(0.5), 3));
        assert_ne!(a, blend(&cai, &help, Some(0.5), 4));
        let first_half_cai = count(&a[..15], "cai");
        assert!(
            first_half_cai > 0 && first_half_cai < 15,
            "not shuffled: {first_half_cai}"
        );
    }
}
