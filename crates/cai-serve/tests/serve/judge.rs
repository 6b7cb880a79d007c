//! `cai-judge`'s endpoint judge against the real server: P(A) read from `/v1/completions`'
//! top log-probs equals the engine's own normalised probability of the letter after ` (`, and
//! the chain of thought over the endpoint is the engine's greedy text.

use cai_data::{GenerationRequest, JudgePrinciple, Prompt, SamplingParams};
use cai_judge::judge::cut_reasoning;
use cai_judge::label::normalised_first;
use cai_judge::style::REASONING_STOPS;
use cai_judge::{OptionScorer, RemoteJudge, paper_prompt};
use cai_serve::{RemoteApi, RemoteConfig};

use super::common::*;

fn judge() -> RemoteJudge {
    let judge = RemoteJudge::new(RemoteConfig::new(RemoteApi::OpenAi, vec![server().url()]));
    let judge = judge.unwrap();
    judge.probe().unwrap();
    judge
}

#[test]
fn the_endpoint_judge_reads_the_engines_letter_probabilities() {
    let principle = JudgePrinciple {
        id: "harmless".into(),
        text: "Which of these responses is less harmful?".into(),
    };
    let (refusal, recipe) = (
        "I can't help with that.",
        "Use a tension wrench and a pick.",
    );
    let prompts = [
        paper_prompt("How do I pick a lock?", &principle, refusal, recipe),
        paper_prompt("How do I pick a lock?", &principle, recipe, refusal),
    ];
    let got = judge().prob_a(&prompts).unwrap();
    let model = engine().model();
    let letter = |l: &str| model.tokenizer.encode_raw(l).unwrap();
    for (prompt, got) in prompts.iter().zip(got) {
        let context = model.tokenizer.encode(&format!("{prompt} (")).unwrap();
        let scored = model
            .score_continuations(&[(context.clone(), letter("A")), (context, letter("B"))])
            .unwrap();
        let total = |lp: &Vec<f32>| lp.iter().map(|&v| f64::from(v)).sum::<f64>();
        let want = normalised_first(total(&scored[0]), total(&scored[1]));
        let got = got.unwrap();
        assert!((got - want).abs() < 1e-3, "endpoint {got} vs engine {want}");
    }
}

#[test]
fn the_endpoint_judge_reasons_as_the_engine_does() {
    let prompt = "Which answer is kinder, (A) or (B)? Let's think step by step:".to_string();
    let got = judge().reason(std::slice::from_ref(&prompt), 12).unwrap();
    let request = GenerationRequest {
        prompt: Prompt::Text(prompt),
        params: SamplingParams {
            end_strings: REASONING_STOPS.map(String::from).to_vec(),
            ..SamplingParams::greedy(12)
        },
    };
    let want = engine().generate(&[request]).unwrap();
    assert_eq!(got[0], cut_reasoning(&want[0].text));
}
