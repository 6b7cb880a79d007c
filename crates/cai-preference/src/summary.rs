//! `summary.json` of a preference run: what was produced and what was dropped, by reason.

use std::collections::BTreeMap;

use cai_backend::GeneratorInfo;
use cai_judge::Failure;
use serde::Serialize;

use crate::config::Mode;
use crate::worklog::PromptResult;

/// Items dropped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Candidates that were empty.
    pub empty_answer: usize,
    /// Candidates identical to an earlier one of the same prompt.
    pub duplicate_answer: usize,
    /// Prompts left with fewer than two distinct candidates.
    pub too_few_candidates: usize,
    /// Pairs whose both-order label is exactly ½ (never replaced by a random pair).
    pub tie: usize,
    /// Judgements where neither option was among the endpoint's top log-probs.
    pub no_option_probability: usize,
    /// Judge requests that failed after their retries.
    pub endpoint_failure: usize,
    /// NeMo-mode answers that did not parse.
    pub unparseable_answer: usize,
    /// NeMo-mode answers naming one candidate as both chosen and rejected (never replaced by
    /// a random pair).
    pub same_choice: usize,
}

impl Dropped {
    /// Counts `n` judgements that failed for `reason`.
    pub fn add_failure(&mut self, reason: Failure, n: usize) {
        let field = match reason {
            Failure::NoOptionProbability => &mut self.no_option_probability,
            Failure::EndpointFailure => &mut self.endpoint_failure,
            Failure::UnparseableAnswer => &mut self.unparseable_answer,
            Failure::SameChoice => &mut self.same_choice,
        };
        *field += n;
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Prompts in the run.
    pub prompts: usize,
    /// Of them, found done in the work log.
    pub prompts_resumed: usize,
    /// Distinct candidates kept.
    pub candidates: usize,
    /// Pairs judged (in both orders).
    pub pairs_judged: usize,
    /// Judged pairs where the judge picked the same position in both orders (kept; the averaged
    /// label is then near ½).
    pub position_disagreements: usize,
    /// AI-labelled preference records written.
    pub ai_records: usize,
    /// Human helpfulness pairs blended in.
    pub helpful_records: usize,
    /// What was dropped.
    pub dropped: Dropped,
}

impl Counts {
    /// Adds one prompt's result.
    pub fn add(&mut self, result: &PromptResult) {
        self.prompts += 1;
        self.candidates += result.candidates.len();
        self.dropped.empty_answer += result.empty;
        self.dropped.duplicate_answer += result.duplicate;
        if result.candidates.len() < 2 {
            self.dropped.too_few_candidates += 1;
        }
        self.pairs_judged += result.pairs.len();
        for (&reason, &n) in &result.failures {
            self.dropped.add_failure(reason, n);
        }
        for pair in &result.pairs {
            self.dropped.tie += usize::from(pair.orders.is_tie());
            self.position_disagreements += usize::from(pair.orders.positions_disagree());
        }
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Labelling mode.
    pub mode: Mode,
    /// The judge model.
    pub judge: String,
    /// Labelling demonstrations shown before each question.
    pub few_shot: usize,
    /// What generated the candidates.
    pub generator: GeneratorInfo,
    /// Where the prompts came from.
    pub prompts_origin: String,
    /// Counts by kind and reason.
    pub counts: Counts,
    /// Records per split (blended).
    pub splits: BTreeMap<String, usize>,
    /// Seconds spent on the prompts this invocation processed.
    pub seconds: f64,
    /// Pairs judged per minute this invocation (`null` when nothing was left to do).
    pub pairs_per_minute: Option<f64>,
}
