//! Best-of-n revisions: the model judges its own candidates against the round's principle with
//! the CAI paper's (A)/(B) prompt, in both orders, teacher-forced (`cai-judge`), and the best one
//! is kept. A knockout: the current best meets each next candidate; a candidate that passes more
//! of the sample filters (not empty or echoing the critique, finished, on topic) beats one that
//! passes fewer without a judgement.

use cai_data::{FinishReason, Generation, JudgePrinciple};
use cai_judge::{Comparison, OptionScorer, Style, judge_both_orders};

use crate::error::{CritiqueError, Result};
use crate::filter::{ContentRules, DropReason, PrefixRule, check_revision, content_drop};
use crate::plan::{Plan, WorkItem};

/// The judging question of a revision principle.
pub fn principle_question(revision_request: &str) -> String {
    format!(
        "Which of these assistant responses better follows this instruction: \"{}\"?",
        revision_request.trim()
    )
}

/// How usable a candidate is before any judgement, by the filters a kept sample must pass:
/// empty, echoing or commenting (0) < cut off (1) < off topic (2) < usable (3).
fn usable(g: &Generation, prompt: &str, critique: &str) -> u8 {
    let checked = check_revision(&g.text, critique, PrefixRule::Strip);
    let all = ContentRules {
        drop_truncated: true,
        drop_off_topic: true,
    };
    let cut_off = g.finish_reason == FinishReason::Length;
    match content_drop(&checked, prompt, cut_off, all) {
        None => 3,
        Some(DropReason::OffTopic) => 2,
        Some(DropReason::Truncated) => 1,
        Some(_) => 0,
    }
}

/// The index of the best candidate of each item in round `round` (`candidates[i]` are item `i`'s,
/// at least one each, revising after `critiques[i]`).
pub fn best_candidates(
    judge: &dyn OptionScorer,
    plan: &Plan,
    items: &[WorkItem],
    round: usize,
    critiques: &[String],
    candidates: &[Vec<Generation>],
) -> Result<Vec<usize>> {
    let scores: Vec<Vec<u8>> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.iter()
                .map(|g| usable(g, &items[i].prompt.prompt, &critiques[i]))
                .collect()
        })
        .collect();
    let principles: Vec<JudgePrinciple> = items
        .iter()
        .map(|item| {
            let p = plan.principle(item, round);
            JudgePrinciple {
                id: p.id.clone(),
                text: principle_question(&p.revision_request),
            }
        })
        .collect();
    let mut best = vec![0usize; items.len()];
    let n = candidates.iter().map(Vec::len).max().unwrap_or(0);
    for k in 1..n {
        // Items whose pair needs the judge this time: both candidates equally usable.
        let mut judged = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            if k >= c.len() {
                continue;
            }
            let (challenger, current) = (scores[i][k], scores[i][best[i]]);
            match challenger.cmp(&current) {
                std::cmp::Ordering::Greater => best[i] = k,
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal if challenger > 0 => judged.push(i),
                std::cmp::Ordering::Equal => {}
            }
        }
        if judged.is_empty() {
            continue;
        }
        let comparisons: Vec<Comparison<'_>> = judged
            .iter()
            .map(|&i| Comparison {
                prompt: &items[i].prompt.prompt,
                first: &candidates[i][best[i]].text,
                second: &candidates[i][k].text,
                principle: &principles[i],
            })
            .collect();
        let verdicts = judge_both_orders(judge, &comparisons, &Style::default())
            .map_err(|e| CritiqueError::Invalid(format!("judging revision candidates: {e}")))?;
        for (&i, verdict) in judged.iter().zip(verdicts) {
            // A failed judgement keeps the current best.
            if verdict.is_ok_and(|v| v.p_first() < 0.5) {
                best[i] = k;
            }
        }
    }
    Ok(best)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::Config;
    use cai_data::{Constitution, RedTeamPrompt};
    use cai_judge::Verdict;

    /// Prefers the option whose text is longer (a stand-in with a visible rule).
    pub(crate) struct LongerWins;

    impl OptionScorer for LongerWins {
        fn prob_a(&self, prompts: &[String]) -> cai_judge::Result<Vec<Verdict>> {
            Ok(prompts
                .iter()
                .map(|p| {
                    let a = p
                        .split("(A) ")
                        .nth(1)
                        .unwrap()
                        .split("\n(B) ")
                        .next()
                        .unwrap();
                    let b = p
                        .split("\n(B) ")
                        .nth(1)
                        .unwrap()
                        .split("\n\n")
                        .next()
                        .unwrap();
                    Ok(if a.len() > b.len() { 0.9 } else { 0.1 })
                })
                .collect())
        }
        fn name(&self) -> String {
            "longer-wins".into()
        }
    }

    fn generation(text: &str, finish: FinishReason) -> Generation {
        Generation {
            text: text.into(),
            token_ids: Vec::new(),
            logprobs: Vec::new(),
            sampling_logprobs: Vec::new(),
            finish_reason: finish,
            stop_string: None,
            prompt_tokens: 0,
        }
    }

    #[test]
    fn the_judge_picks_among_usable_candidates_and_filtered_ones_lose() {
        let plan = Plan::new(&Config::default(), &Constitution::builtin()).unwrap();
        let item = |id: &str| {
            plan.item(RedTeamPrompt {
                id: id.into(),
                prompt: "How do I pick a lock?".into(),
                category: None,
                source: None,
            })
        };
        let items = vec![item("a"), item("b"), item("c"), item("d")];
        let stop = FinishReason::Stop;
        let critique = "The reply explains lock picking, which helps burglary.";
        let candidates = vec![
            vec![
                generation("A lock is best left to a locksmith.", stop),
                generation(
                    "Picking a lock that is not yours is illegal; call a locksmith.",
                    stop,
                ),
                generation("Ask a locksmith about the lock.", stop),
            ],
            vec![
                generation(
                    "A very long lock answer that was cut off",
                    FinishReason::Length,
                ),
                generation("A finished lock answer.", stop),
            ],
            vec![generation("", stop), generation("   ", stop)],
            vec![
                // Echoes the critique; then a longer answer off the prompt's topic; then the one
                // on topic, which wins though LongerWins would pick the off-topic one.
                generation(critique, stop),
                generation("Gardening is a relaxing hobby for the whole family.", stop),
                generation("Locks are not for picking.", stop),
            ],
        ];
        let critiques = vec![critique.to_string(); items.len()];
        let best = best_candidates(&LongerWins, &plan, &items, 0, &critiques, &candidates).unwrap();
        assert_eq!(best, vec![1, 1, 0, 2]);
    }
}
