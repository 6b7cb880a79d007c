//! Turning one row of logits into the next token: repetition penalty, temperature, top-k, top-p,
//! min-p, then a draw from the request's own seeded RNG (or argmax).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::SamplingParams;
use crate::kernels::fused::math::{exp_le0, row_max, row_sum, sum_exp, vectorized};

/// Per-sequence sampler state: parameters and RNG.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

/// `log_softmax(logits)[token]`.
pub fn logprob_of(logits: &[f32], token: usize) -> f32 {
    scaled_logprob(logits, 1.0, token)
}

/// `log_softmax(logits / temperature)[token]`, from vectorised f32 exponentials summed in f64
/// (within ~1e-6 of an all-f64 computation).
pub fn scaled_logprob(logits: &[f32], temperature: f32, token: usize) -> f32 {
    vectorized(|| {
        let max = row_max(logits);
        let scale = 1.0 / temperature;
        let sum = sum_exp(logits, max, scale);
        (((logits[token] - max) * scale) as f64 - sum.ln()) as f32
    })
}

impl Sampler {
    /// A sampler for `params`; without a seed, one is drawn from the OS.
    pub fn new(params: SamplingParams) -> Self {
        let rng = match params.random_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self { params, rng }
    }

    /// The parameters.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Picks the next token from `logits` (modified in place), given the tokens seen so far.
    /// `ban` lists tokens that must not be picked (EOS before `min_tokens_to_generate`).
    pub fn sample(&mut self, logits: &mut [f32], seen: &[u32], ban: &[u32]) -> u32 {
        let p = &self.params;
        if p.repetition_penalty != 1.0 {
            let mut done = vec![false; logits.len()];
            for &t in seen {
                let t = t as usize;
                if t < logits.len() && !done[t] {
                    done[t] = true;
                    let x = logits[t];
                    logits[t] = if x > 0.0 {
                        x / p.repetition_penalty
                    } else {
                        x * p.repetition_penalty
                    };
                }
            }
        }
        for &b in ban {
            if let Some(x) = logits.get_mut(b as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        if p.greedy {
            return argmax(logits) as u32;
        }
        if p.top_k == 0 && p.top_p >= 1.0 && p.min_p <= 0.0 {
            return self.draw_untruncated(logits);
        }
        // Candidates sorted by logit, then truncated by top-k / top-p / min-p.
        let mut cand: Vec<(usize, f32)> = logits
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_finite())
            .map(|(i, &x)| (i, x / p.temperature))
            .collect();
        if cand.is_empty() {
            return argmax(logits) as u32;
        }
        let k = if p.top_k > 0 {
            p.top_k.min(cand.len())
        } else {
            cand.len()
        };
        if k < cand.len() {
            cand.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            cand.truncate(k);
        }
        cand.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let max = cand[0].1;
        let mut probs: Vec<f64> = cand.iter().map(|c| ((c.1 - max) as f64).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|q| *q /= total);
        let mut keep = probs.len();
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            for (i, q) in probs.iter().enumerate() {
                acc += q;
                if acc >= p.top_p as f64 {
                    keep = i + 1;
                    break;
                }
            }
        }
        if p.min_p > 0.0 {
            let floor = probs[0] * p.min_p as f64;
            keep = keep.min(probs.iter().take_while(|&&q| q >= floor).count().max(1));
        }
        // The draw walks the kept tokens in vocabulary order, not by probability: a tiny change
        // of the logits (another batch, other kernels) then moves each token's share of the unit
        // interval by as little, whereas in sorted order two near-equal logits trading places
        // would hand one token's whole share to the other.
        let mut kept: Vec<(usize, f64)> = cand[..keep]
            .iter()
            .zip(&probs[..keep])
            .map(|(c, &q)| (c.0, q))
            .collect();
        kept.sort_unstable_by_key(|&(token, _)| token);
        let total: f64 = kept.iter().map(|&(_, q)| q).sum();
        let mut draw = self.rng.random::<f64>() * total;
        for &(token, q) in &kept {
            draw -= q;
            if draw <= 0.0 {
                return token as u32;
            }
        }
        kept[keep - 1].0 as u32
    }

    /// A draw from the whole softmax at the sampling temperature, without sorting (nothing is
    /// truncated): one vectorised pass of exponentials, then a walk in vocabulary order as in
    /// [`Sampler::sample`]. Banned (−∞) tokens get no weight.
    fn draw_untruncated(&mut self, logits: &[f32]) -> u32 {
        let scale = 1.0 / self.params.temperature;
        let (weights, total) = vectorized(|| {
            let max = row_max(logits);
            let weights: Vec<f32> = logits
                .iter()
                .map(|&x| {
                    if x.is_finite() {
                        exp_le0((x - max) * scale)
                    } else {
                        0.0
                    }
                })
                .collect();
            let total = row_sum(&weights);
            (weights, total)
        });
        if total.is_nan() || total <= 0.0 {
            return argmax(logits) as u32;
        }
        let mut draw = self.rng.random::<f64>() * total;
        let mut last = 0;
        for (token, &q) in weights.iter().enumerate() {
            if q > 0.0 {
                last = token;
                draw -= q as f64;
                if draw <= 0.0 {
                    return token as u32;
                }
            }
        }
        last as u32
    }
}

/// The tokens the repetition penalty of `params` looks at (the `seen` of [`Sampler::sample`]):
/// prompt and generated tokens, only the generated ones when `penalize_prompt` is false, none when
/// the penalty is off (the sampler would not read them).
pub fn penalized_tokens(params: &SamplingParams, prompt: &[u32], generated: &[u32]) -> Vec<u32> {
    if params.repetition_penalty == 1.0 {
        Vec::new()
    } else if params.penalize_prompt {
        prompt.iter().chain(generated).copied().collect()
    } else {
        generated.to_vec()
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut SamplingParams)) -> SamplingParams {
        let mut p = SamplingParams {
            random_seed: Some(7),
            ..SamplingParams::default()
        };
        f(&mut p);
        p
    }

    #[test]
    fn greedy_takes_argmax_and_respects_bans() {
        let mut s = Sampler::new(params(|p| p.greedy = true));
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[], &[]), 1);
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[], &[1]), 2);
    }

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative() {
        let mut s = Sampler::new(params(|p| {
            p.greedy = true;
            p.repetition_penalty = 2.0;
        }));
        let mut logits = [4.0, 3.0, -1.0];
        assert_eq!(s.sample(&mut logits, &[0, 2], &[]), 1);
        assert_eq!(logits, [2.0, 3.0, -2.0]);
    }

    #[test]
    fn penalize_prompt_false_spares_the_prompt_tokens() {
        // Token 0 is the prompt's word, token 1 was generated, token 2 is new.
        let (prompt, generated) = ([0], [1]);
        let pick = |penalize_prompt: bool| {
            let p = params(|p| {
                p.greedy = true;
                p.repetition_penalty = 2.0;
                p.penalize_prompt = penalize_prompt;
            });
            let seen = penalized_tokens(&p, &prompt, &generated);
            let mut logits = [4.0, 5.0, 3.0];
            let token = Sampler::new(p).sample(&mut logits, &seen, &[]);
            (seen, logits, token)
        };
        // HF / NeMo: the prompt token is penalised too, and the new token wins.
        assert_eq!(pick(true), (vec![0, 1], [2.0, 2.5, 3.0], 2));
        // Generated tokens only: the prompt's token keeps its logit and wins.
        assert_eq!(pick(false), (vec![1], [4.0, 2.5, 3.0], 0));
        // No penalty: nothing to look at.
        let off = params(|p| p.penalize_prompt = false);
        assert!(penalized_tokens(&off, &prompt, &generated).is_empty());
    }

    #[test]
    fn top_k_one_is_greedy_and_top_p_limits_support() {
        let mut s = Sampler::new(params(|p| p.top_k = 1));
        for _ in 0..20 {
            assert_eq!(s.sample(&mut [1.0, 5.0, 4.9], &[], &[]), 1);
        }
        // p(token 1) ≈ 0.52 ≥ top_p 0.5: only token 1 remains.
        let mut s = Sampler::new(params(|p| p.top_p = 0.5));
        for _ in 0..20 {
            assert_eq!(s.sample(&mut [1.0, 5.0, 4.9], &[], &[]), 1);
        }
        let mut s = Sampler::new(params(|p| p.min_p = 0.99));
        for _ in 0..20 {
            assert_eq!(s.sample(&mut [1.0, 5.0, 4.9], &[], &[]), 1);
        }
    }

    #[test]
    fn seeded_sampling_repeats_and_covers_the_support() {
        let draw = |seed| {
            let mut s = Sampler::new(params(|p| p.random_seed = Some(seed)));
            (0..200)
                .map(|_| s.sample(&mut [0.0, 0.0, 0.0], &[], &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let seen: std::collections::HashSet<u32> = draw(3).into_iter().collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn a_tiny_change_of_the_logits_keeps_the_draw() {
        // 1000 near-equal logits, then each nudged by ±3e-6: in probability order many neighbours
        // would trade places (and shares of the unit interval); in vocabulary order the draws
        // stay put.
        let base: Vec<f32> = (0..1000).map(|i| 1.0 + i as f32 * 1e-6).collect();
        let nudged: Vec<f32> = base
            .iter()
            .enumerate()
            .map(|(i, &x)| if i % 2 == 0 { x + 3e-6 } else { x - 3e-6 })
            .collect();
        let moved = (0..2000)
            .filter(|&seed| {
                let pick = |logits: &[f32]| {
                    let mut s = Sampler::new(params(|p| p.random_seed = Some(seed)));
                    s.sample(&mut logits.to_vec(), &[], &[])
                };
                pick(&base) != pick(&nudged)
            })
            .count();
        assert!(moved <= 2, "{moved} of 2000 draws changed");
    }

    #[test]
    fn the_unsorted_draw_matches_the_sorted_one() {
        // Pseudo-random logits over 5000 tokens, some banned; top_k = vocabulary size truncates
        // nothing but takes the sorting path.
        let logits: Vec<f32> = (0..5000u64)
            .map(|i| ((i * 2_654_435_761) % 10_000) as f32 / 1000.0 - 5.0)
            .collect();
        let ban = [17u32, 4000];
        let differ = (0..1000)
            .filter(|&seed| {
                let pick = |top_k| {
                    let mut s = Sampler::new(params(|p| {
                        p.random_seed = Some(seed);
                        p.temperature = 0.7;
                        p.top_k = top_k;
                    }));
                    s.sample(&mut logits.clone(), &[], &ban)
                };
                let fast = pick(0);
                assert!(!ban.contains(&fast));
                fast != pick(5000)
            })
            .count();
        assert!(differ <= 2, "{differ} of 1000 draws differ");
    }

    #[test]
    fn scaled_logprob_matches_an_f64_log_softmax() {
        let logits: Vec<f32> = (0..49_152)
            .map(|i| ((i * 37) % 1000) as f32 * 0.02 - 7.0)
            .collect();
        for (temperature, token) in [(1.0f32, 5usize), (0.7, 123), (1.3, 49_151)] {
            let scaled: Vec<f64> = logits
                .iter()
                .map(|&x| x as f64 / temperature as f64)
                .collect();
            let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = scaled.iter().map(|x| (x - max).exp()).sum();
            let want = scaled[token] - max - sum.ln();
            let got = scaled_logprob(&logits, temperature, token) as f64;
            assert!(
                (got - want).abs() < 2e-5,
                "T {temperature}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn logprob_matches_log_softmax() {
        let lp = logprob_of(&[1.0, 2.0, 3.0], 2);
        let want = 3.0 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        assert!((lp as f64 - want).abs() < 1e-6);
    }
}
