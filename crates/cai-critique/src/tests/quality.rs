//! The quality rules of a run: cut-off and off-topic revisions are dropped and counted, kept
//! samples that decline are counted, best-of-n keeps the candidate the judge prefers, and the
//! observer hears every generator call.

use std::path::Path;

use cai_data::{
    FinishReason, Generation, GenerationError, GenerationRequest, Generator, Prompt, SlCaiTrace,
};
use cai_judge::OptionScorer;

use super::{config, inputs, read_lines};
use crate::generate::{Observer, Step};
use crate::select::tests::LongerWins;
use crate::{Config, Environment, Summary, run};

/// Revisions by the prompt's number: even ones are on topic and decline, odd ones drift; every
/// third is cut off. Sampled candidates (not greedy) are longer.
struct Scripted;

impl Generator for Scripted {
    fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>, GenerationError> {
        Ok(requests
            .iter()
            .map(|r| {
                let Prompt::Chat(messages) = &r.prompt else {
                    panic!("chats only")
                };
                let prompt = messages
                    .iter()
                    .rev()
                    .find(|m| m.content.starts_with("Harmful request"))
                    .map_or("", |m| m.content.as_str());
                let last = &messages.last().unwrap().content;
                let number: usize = prompt
                    .trim_end_matches('?')
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                if !last.starts_with("Revision request") {
                    return Generation::from_text("An answer.", FinishReason::Eos);
                }
                let mut text = if number.is_multiple_of(2) {
                    format!(
                        "I won't help with harmful request {number}. Instead, talk to a friend."
                    )
                } else {
                    "Gardening tips: water tomatoes daily.".to_string()
                };
                if !r.params.greedy {
                    text.push_str(" A longer sampled candidate.");
                }
                let finish = if number.is_multiple_of(3) {
                    FinishReason::Length
                } else {
                    FinishReason::Eos
                };
                Generation::from_text(text, finish)
            })
            .collect())
    }

    fn describe(&self) -> String {
        "scripted".into()
    }
}

/// Counts observer calls.
#[derive(Default)]
struct Steps(Vec<(Step, usize)>, usize);

impl Observer for Steps {
    fn started(&mut self, pending: usize, _done: usize, steps_per_batch: usize) {
        self.1 = pending * steps_per_batch;
    }
    fn step_done(&mut self, step: Step, prompts: usize) {
        self.0.push((step, prompts));
    }
}

fn run_scripted(config: &Config, judge: Option<&(dyn OptionScorer + Sync)>) -> (Summary, Steps) {
    let env = Environment {
        generators: vec![&Scripted as &dyn Generator],
        counter: None,
        template: "test".into(),
        judge,
    };
    let mut steps = Steps::default();
    let summary = run(config, &inputs(12, 4), &env, &mut steps).unwrap();
    (summary, steps)
}

fn quality_config(out: &Path) -> Config {
    Config {
        drop_off_topic: true,
        ..config(out, 5, 1)
    }
}

#[test]
fn cut_off_and_off_topic_revisions_are_dropped_and_declines_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (summary, steps) = run_scripted(&quality_config(dir.path()), None);
    let counts = &summary.counts;
    // 0..12: multiples of 3 are cut off (4); of the rest, odd ones drift (1, 5, 7, 11).
    assert_eq!(counts.truncated_revisions, 4);
    assert_eq!(counts.dropped["truncated"], 4);
    assert_eq!(counts.dropped["off_topic"], 4);
    assert_eq!(counts.sl_cai_samples, 4);
    assert_eq!(counts.declining_samples, 4);
    // Three generator calls per batch, 12 prompts in batches of 5: every prompt-step heard.
    assert_eq!(steps.0.len(), 3 * 3);
    assert_eq!(steps.0.iter().map(|s| s.1).sum::<usize>(), steps.1);
    assert_eq!(steps.0[0], (Step::Initial, 5));

    let kept = tempfile::tempdir().unwrap();
    let config = Config {
        drop_truncated: false,
        drop_off_topic: false,
        ..quality_config(kept.path())
    };
    let (summary, _) = run_scripted(&config, None);
    assert_eq!(summary.counts.sl_cai_samples, 12);
    assert_eq!(summary.counts.truncated_revisions, 4);
}

#[test]
fn best_of_n_keeps_the_judged_best_and_records_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        revision_candidates: 3,
        ..quality_config(dir.path())
    };
    let (summary, _) = run_scripted(&config, Some(&LongerWins));
    let traces: Vec<SlCaiTrace> = read_lines(&dir.path().join("trace.jsonl"));
    for trace in &traces {
        let round = &trace.rounds[0];
        assert!(
            round.revision.ends_with("A longer sampled candidate."),
            "{round:?}"
        );
        assert_eq!(round.rejected_revisions.len(), 2);
    }
    assert_eq!(summary.counts.sl_cai_samples, 4);
    // Without a judge, several candidates are an error, not a silent first pick.
    let other = tempfile::tempdir().unwrap();
    let env = Environment {
        generators: vec![&Scripted as &dyn Generator],
        counter: None,
        template: "test".into(),
        judge: None,
    };
    let config = Config {
        revision_candidates: 2,
        ..quality_config(other.path())
    };
    let err = run(&config, &inputs(2, 0), &env, &mut ()).unwrap_err();
    assert!(err.to_string().contains("judge"), "{err}");
}
