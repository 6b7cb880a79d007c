//! Whole-run tests with a scripted fake generator: the exact conversations sent, few-shot placement,
//! reproducible principle sampling, blending, filters, bad input, and resumption after a crash at
//! every batch boundary.

use std::path::Path;
use std::sync::Mutex;

use cai_data::{ChatSample, Constitution, FewShotExample, Principle, RedTeamPrompt, SlCaiTrace};
use cai_data::{
    FinishReason, Generation, GenerationError, GenerationRequest, Generator, Message, Prompt, Role,
};
use serde_json::Value;

use crate::assemble::TokenCounter;
use crate::input::Loaded;
use crate::{Config, Environment, Inputs, Summary, run};

/// Replies with a function of the conversation only, so results never depend on call order; fails
/// (a simulated crash) at call `fail_at`.
struct Fake {
    calls: Mutex<Vec<Vec<GenerationRequest>>>,
    fail_at: Option<usize>,
    reply: fn(&[Message]) -> String,
}

impl Fake {
    fn new(reply: fn(&[Message]) -> String) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            fail_at: None,
            reply,
        }
    }

    fn failing_at(call: usize) -> Self {
        Self {
            fail_at: Some(call),
            ..Self::new(hash_reply)
        }
    }

    fn calls(&self) -> Vec<Vec<GenerationRequest>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Generator for Fake {
    fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>, GenerationError> {
        let mut calls = self.calls.lock().unwrap();
        if self.fail_at == Some(calls.len()) {
            return Err(GenerationError::Invalid("simulated crash".into()));
        }
        calls.push(requests.to_vec());
        Ok(requests
            .iter()
            .map(|r| {
                let Prompt::Chat(messages) = &r.prompt else {
                    panic!("the stage sends chats only")
                };
                Generation::from_text(format!(" {} \n", (self.reply)(messages)), FinishReason::Eos)
            })
            .collect())
    }

    fn describe(&self) -> String {
        "scripted fake".into()
    }
}

/// `reply-<hash of the conversation>`.
fn hash_reply(messages: &[Message]) -> String {
    let parts: Vec<&[u8]> = messages
        .iter()
        .flat_map(|m| [m.role.as_str().as_bytes(), m.content.as_bytes()])
        .collect();
    format!("reply-{}", &crate::key::hash_parts(&parts)[..10])
}

/// Counts whitespace words, standing in for a tokenizer.
struct WordCounter;

impl TokenCounter for WordCounter {
    fn count_chat(&self, messages: &[Message]) -> cai_model::Result<usize> {
        Ok(messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum())
    }
}

fn constitution() -> Constitution {
    let principle = |i: usize| Principle {
        id: format!("p{i}"),
        critique_request: format!("Critique request {i}."),
        revision_request: format!("Revision request {i}."),
        categories: vec![format!("cat{}", i % 2)],
    };
    Constitution {
        name: "test".into(),
        critique_revision: (0..4).map(principle).collect(),
        judge_principles: Vec::new(),
        few_shot: vec![FewShotExample {
            principle_id: Some("p0".into()),
            conversation: vec![
                cai_data::Message::user("demo prompt"),
                cai_data::Message::assistant("demo answer"),
            ],
            critique_request: "demo critique request".into(),
            critique: "demo critique".into(),
            revision_request: "demo revision request".into(),
            revision: "demo revision".into(),
        }],
    }
}

fn prompts(n: usize) -> Vec<RedTeamPrompt> {
    (0..n)
        .map(|i| RedTeamPrompt {
            id: format!("rt-{i:03}"),
            prompt: format!("Harmful request number {i}?"),
            category: None,
            source: None,
        })
        .collect()
}

fn helpful(n: usize) -> Vec<ChatSample> {
    (0..n)
        .map(|i| {
            ChatSample::from_messages(
                &[
                    cai_data::Message::user(format!("Question {i}?")),
                    cai_data::Message::assistant("A helpful answer."),
                ],
                "help",
            )
        })
        .collect()
}

fn inputs(prompt_count: usize, helpful_count: usize) -> Inputs {
    Inputs {
        prompts: Loaded::builtin(prompts(prompt_count)),
        helpfulness: Loaded::builtin(helpful(helpful_count)),
        constitution: constitution(),
    }
}

fn config(out: &Path, batch_size: usize, rounds: usize) -> Config {
    let mut config = Config {
        out: out.to_path_buf(),
        batch_size,
        rounds,
        max_seq_length: 0,
        // The fakes' replies are not about the prompts; `quality` tests this filter.
        drop_off_topic: false,
        ..Config::default()
    };
    config.sampling.tokens_to_generate = 16;
    config
}

fn run_with(config: &Config, inputs: &Inputs, fake: &Fake) -> crate::Result<Summary> {
    let env = Environment {
        generators: vec![fake as &dyn Generator],
        counter: Some(&WordCounter),
        template: "test".into(),
        judge: None,
    };
    run(config, inputs, &env, &mut ())
}

fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn chat(request: &GenerationRequest) -> Vec<(String, String)> {
    let Prompt::Chat(messages) = &request.prompt else {
        panic!("not a chat")
    };
    messages
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.content.clone()))
        .collect()
}

fn turns(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect()
}

const DEMO: [(&str, &str); 6] = [
    ("user", "demo prompt"),
    ("assistant", "demo answer"),
    ("user", "demo critique request"),
    ("assistant", "demo critique"),
    ("user", "demo revision request"),
    ("assistant", "demo revision"),
];

/// Checks every call against the conversations the flow must send, built by hand from the traces.
fn check_conversations(rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(hash_reply);
    let config = config(dir.path(), 2, rounds);
    run_with(&config, &inputs(3, 4), &fake).unwrap();
    let traces: Vec<SlCaiTrace> = read_lines(&dir.path().join("trace.jsonl"));
    let calls = fake.calls();
    // Two batches (2 + the partial 1), each 1 + 2 × rounds calls.
    assert_eq!(calls.len(), 2 * (1 + 2 * rounds));
    assert_eq!(traces.len(), 3, "the last partial batch is processed");
    let steps = 1 + 2 * rounds;
    for (t, trace) in traces.iter().enumerate() {
        let (batch, row) = (t / 2, t % 2);
        let call = |step: usize| &calls[batch * steps + step][row];
        let mut expected = turns(&DEMO);
        expected.extend(turns(&[("user", &trace.prompt)]));
        assert_eq!(chat(call(0)), expected, "initial, prompt {t}");
        assert_eq!(trace.initial_response, hash_reply(&to_messages(&expected)));
        let mut answer = trace.initial_response.clone();
        for (r, round) in trace.rounds.iter().enumerate() {
            let n = &round.principle_id[1..];
            let mut critique = turns(&DEMO);
            critique.extend(turns(&[
                ("user", &trace.prompt),
                ("assistant", &answer),
                ("user", &format!("Critique request {n}.")),
            ]));
            assert_eq!(chat(call(1 + 2 * r)), critique, "critique {r}, prompt {t}");
            assert_eq!(round.critique, hash_reply(&to_messages(&critique)));
            let mut revision = critique.clone();
            revision.extend(turns(&[
                ("assistant", &round.critique),
                ("user", &format!("Revision request {n}.")),
            ]));
            assert_eq!(chat(call(2 + 2 * r)), revision, "revision {r}, prompt {t}");
            assert_eq!(round.revision, hash_reply(&to_messages(&revision)));
            answer = round.revision.clone();
        }
        assert_eq!(trace.rounds.len(), rounds);
        assert_eq!(trace.final_revision, answer, "the last revision is kept");
    }
    let params = &calls[0][0].params;
    assert!(params.greedy && params.repetition_penalty == 1.2 && params.tokens_to_generate == 16);
    assert!(params.random_seed.is_some());
}

fn to_messages(pairs: &[(String, String)]) -> Vec<Message> {
    pairs
        .iter()
        .map(|(r, c)| Message::new(Role::parse(r).expect("a known role"), c.clone()))
        .collect()
}

#[test]
fn one_round_sends_exactly_the_nemo_conversations() {
    check_conversations(1);
}

#[test]
fn three_rounds_critique_each_previous_revision() {
    check_conversations(3);
}

#[test]
fn system_prompt_precedes_the_demonstrations_and_few_shot_can_be_limited() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(hash_reply);
    let mut config = config(dir.path(), 4, 1);
    config.system_prompt = Some("Be kind.".into());
    config.few_shot = Some(0);
    run_with(&config, &inputs(1, 0), &fake).unwrap();
    let first = chat(&fake.calls()[0][0]);
    assert_eq!(
        first,
        turns(&[
            ("system", "Be kind."),
            ("user", "Harmful request number 0?")
        ])
    );
}

fn principle_ids(dir: &Path) -> Vec<Vec<String>> {
    read_lines::<SlCaiTrace>(&dir.join("trace.jsonl"))
        .iter()
        .map(|t| t.rounds.iter().map(|r| r.principle_id.clone()).collect())
        .collect()
}

#[test]
fn principle_sampling_is_reproducible_and_independent_of_batching_and_limit() {
    let runs: Vec<_> = [(1, 5, None), (1, 1, Some(7)), (2, 5, None)]
        .into_iter()
        .map(|(seed, batch, limit)| {
            let dir = tempfile::tempdir().unwrap();
            let mut config = config(dir.path(), batch, 3);
            config.seed = seed;
            config.limit = limit;
            run_with(&config, &inputs(12, 0), &Fake::new(hash_reply)).unwrap();
            principle_ids(dir.path())
        })
        .collect();
    assert_eq!(
        runs[0][..7],
        runs[1][..],
        "same seed: same principles per prompt"
    );
    assert_ne!(runs[0], runs[2], "another seed draws other principles");
    let distinct: std::collections::HashSet<_> = runs[0].iter().flatten().collect();
    assert!(distinct.len() > 1);
}

#[test]
fn blend_takes_all_of_both_by_default_or_the_configured_ratio() {
    for (ratio, expected_help) in [(None, 10), (Some(0.5), 3), (Some(4.0), 10)] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), 4, 1);
        config.helpfulness_ratio = ratio;
        let summary = run_with(&config, &inputs(6, 10), &Fake::new(hash_reply)).unwrap();
        let blend: Vec<ChatSample> = read_lines(&dir.path().join("sft.jsonl"));
        let help = blend.iter().filter(|s| s.dataset == "help").count();
        let cai = blend
            .iter()
            .filter(|s| s.dataset == "sl_cai_samples")
            .count();
        assert_eq!((help, cai), (expected_help, 6), "ratio {ratio:?}");
        assert_eq!(summary.counts.helpfulness_used, expected_help);
        assert_eq!(summary.counts.blend, 6 + expected_help);
        assert_eq!(summary.ratio.actual, Some(expected_help as f64 / 6.0));
        assert_eq!(summary.ratio.requested, ratio);
    }
}

/// Revisions by principle: p0 prefixed, p1 empty, p2 echoing the critique, p3 plain.
fn filter_reply(messages: &[Message]) -> String {
    let last = &messages.last().unwrap().content;
    let critique = messages
        .len()
        .checked_sub(2)
        .map(|i| messages[i].content.clone());
    match last.as_str() {
        "Revision request 0." => "Here is the revised response: Plain and safe.".into(),
        "Revision request 1." => "   ".into(),
        "Revision request 2." => critique.unwrap(),
        l if l.starts_with("Critique request") => {
            "The answer is harmful because it helps with something dangerous.".into()
        }
        _ => "A long answer with many many words in it.".into(),
    }
}

#[test]
fn every_filter_is_applied_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(filter_reply);
    let mut config = config(dir.path(), 8, 1);
    config.max_seq_length = 10;
    config.hf_messages = true;
    let summary = run_with(&config, &inputs(24, 3), &fake).unwrap();
    let traces: Vec<SlCaiTrace> = read_lines(&dir.path().join("trace.jsonl"));
    let by_principle = |p: &str| {
        traces
            .iter()
            .filter(|t| t.rounds[0].principle_id == p)
            .count()
    };
    let dropped = &summary.counts.dropped;
    assert_eq!(summary.counts.prefix_stripped, by_principle("p0"));
    assert_eq!(dropped["empty_revision"], by_principle("p1"));
    assert_eq!(dropped["echoes_critique"], by_principle("p2"));
    // p3 keeps "A long answer…" (9 words + 4 prompt words > 10); p0's "Plain and safe." fits.
    assert_eq!(dropped["too_long"], by_principle("p3"));
    assert_eq!(dropped["revision_prefix"], 0);
    assert_eq!(summary.counts.sl_cai_samples, by_principle("p0"));
    let kept: Vec<ChatSample> = read_lines(&dir.path().join("sl_cai.jsonl"));
    assert!(
        kept.iter()
            .all(|s| s.conversations[1].value == "Plain and safe.")
    );
    let rejects: Vec<Value> = read_lines(&dir.path().join("rejects.jsonl"));
    assert_eq!(rejects.len(), 24 - by_principle("p0"));
    assert_eq!(summary.counts.helpfulness_too_long, 0);
    let hf: Vec<Value> = read_lines(&dir.path().join("sft.messages.jsonl"));
    assert_eq!(hf.len(), summary.counts.blend);
    assert_eq!(hf[0]["messages"][0]["role"], "user");
}

#[test]
fn bad_prompt_lines_are_counted_and_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("red_team.jsonl");
    let lines = [
        r#"{"transcript": "\n\nHuman: First?\n\nAssistant: ok"}"#,
        r#"{"transcript": "\n\nHuman: Second?\n\nAssistant: ok""#,
        r#"{"transcript": "\n\nAssistant: no human turn"}"#,
        r#"{"transcript": "\n\nHuman: Third?\n\nAssistant: ok"}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let mut config = config(&dir.path().join("out"), 4, 1);
    config.prompts = Some(file.clone());
    let inputs = Inputs::load(&config).unwrap();
    let summary = run_with(&config, &inputs, &Fake::new(hash_reply)).unwrap();
    assert_eq!(summary.inputs.prompts_read, 2);
    assert_eq!(summary.inputs.prompts_bad.count, 2);
    let examples = &summary.inputs.prompts_bad.examples;
    assert!(
        examples[0].starts_with(&format!("{}:2:", file.display())),
        "{examples:?}"
    );
    assert!(
        examples[1].starts_with(&format!("{}:3:", file.display())),
        "{examples:?}"
    );
    assert_eq!(summary.counts.traces, 2);
}

/// Every final file, with the invocation-specific `run` part of the summary removed.
fn final_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<_> = [
        "trace.jsonl",
        "sl_cai.jsonl",
        "sft.jsonl",
        "rejects.jsonl",
        "config.json",
    ]
    .into_iter()
    .map(|name| {
        (
            name.to_string(),
            std::fs::read_to_string(dir.join(name)).unwrap(),
        )
    })
    .collect();
    let mut summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    summary.as_object_mut().unwrap().remove("run");
    out.push(("summary.json".into(), summary.to_string()));
    out
}

#[test]
fn resuming_after_a_crash_at_any_point_gives_byte_identical_outputs() {
    const PROMPTS: usize = 7;
    const BATCH: usize = 2;
    const STEPS: usize = 1 + 2 * 2;
    // Every run uses the same output path, so even config.json must match byte for byte.
    let base = tempfile::tempdir().unwrap();
    let config = config(&base.path().join("out"), BATCH, 2);
    let inputs = inputs(PROMPTS, 5);
    run_with(&config, &inputs, &Fake::new(hash_reply)).unwrap();
    let reference = final_files(&config.out);
    let batches = PROMPTS.div_ceil(BATCH);
    // Crash before each batch (at its boundary) and in the middle of each batch.
    for crash_call in (0..batches).flat_map(|b| [b * STEPS, b * STEPS + 2]) {
        std::fs::remove_dir_all(&config.out).unwrap();
        let err = run_with(&config, &inputs, &Fake::failing_at(crash_call)).unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");
        let finished_batches = crash_call / STEPS;
        let log = std::fs::read_to_string(config.out.join("progress.jsonl")).unwrap();
        let saved = (finished_batches * BATCH).min(PROMPTS);
        assert_eq!(log.lines().count(), saved, "crash at call {crash_call}");
        assert!(
            !config.out.join("trace.jsonl").exists(),
            "no final files before the end"
        );
        let resumed = Fake::new(hash_reply);
        let summary = run_with(&config, &inputs, &resumed).unwrap();
        assert_eq!(summary.run.prompts_resumed, saved);
        assert_eq!(resumed.calls().len(), (batches - finished_batches) * STEPS);
        assert_eq!(
            final_files(&config.out),
            reference,
            "crash at call {crash_call}"
        );
    }
}

#[test]
fn a_torn_last_line_and_a_rerun_of_a_finished_run_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 3, 1);
    let inputs = inputs(5, 2);
    run_with(&config, &inputs, &Fake::new(hash_reply)).unwrap();
    let reference = final_files(dir.path());
    let log = dir.path().join("progress.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    std::fs::write(
        &log,
        format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]),
    )
    .unwrap();
    let fake = Fake::new(hash_reply);
    run_with(&config, &inputs, &fake).unwrap();
    assert_eq!(
        fake.calls().len(),
        3,
        "only the torn batch (the partial last one) is redone"
    );
    assert_eq!(final_files(dir.path()), reference);
    let again = Fake::new(hash_reply);
    let summary = run_with(&config, &inputs, &again).unwrap();
    assert!(again.calls().is_empty());
    assert_eq!(summary.run.prompts_resumed, 5);
    assert_eq!(final_files(dir.path()), reference);
}

#[test]
fn changed_settings_regenerate_instead_of_reusing_stale_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 4, 1);
    let inputs = inputs(3, 0);
    run_with(&config, &inputs, &Fake::new(hash_reply)).unwrap();
    config.sampling.tokens_to_generate = 17;
    let fake = Fake::new(hash_reply);
    let summary = run_with(&config, &inputs, &fake).unwrap();
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(summary.run.prompts_resumed, 0);
    assert_eq!(summary.counts.traces, 3);
}

#[test]
fn several_generators_share_the_batches_with_the_same_result() {
    let single_dir = tempfile::tempdir().unwrap();
    let inputs = inputs(9, 3);
    run_with(
        &config(single_dir.path(), 2, 1),
        &inputs,
        &Fake::new(hash_reply),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fakes = [
        Fake::new(hash_reply),
        Fake::new(hash_reply),
        Fake::new(hash_reply),
    ];
    let env = Environment {
        generators: fakes.iter().map(|f| f as &dyn Generator).collect(),
        counter: Some(&WordCounter),
        template: "test".into(),
        judge: None,
    };
    run(&config(dir.path(), 2, 1), &inputs, &env, &mut ()).unwrap();
    let total: usize = fakes.iter().map(|f| f.calls().len()).sum();
    assert_eq!(total, 5 * 3);
    let strip = |files: Vec<(String, String)>| -> Vec<(String, String)> {
        files
            .into_iter()
            .filter(|(n, _)| n != "config.json" && n != "summary.json")
            .collect()
    };
    assert_eq!(
        strip(final_files(dir.path())),
        strip(final_files(single_dir.path()))
    );
}

mod quality;
