//! The generation engine against transformers' greedy decoding, and its batching, stopping,
//! streaming and seeding guarantees.

use cai_model::generate::StreamDelta;
use cai_model::{FinishReason, GenerationRequest, Prompt, SamplingParams};
use serde_json::Value;

use super::common::*;

fn golden_cases() -> Vec<(String, Value)> {
    json_fixture("smollm2.json")["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn request(prompt: Prompt, params: SamplingParams) -> GenerationRequest {
    GenerationRequest { prompt, params }
}

fn no_stop_greedy(n: usize) -> SamplingParams {
    SamplingParams {
        ignore_eos: true,
        ..SamplingParams::greedy(n)
    }
}

#[test]
fn batch_of_mixed_length_prompts_matches_transformers_greedy() {
    let cases = golden_cases();
    let requests: Vec<_> = cases
        .iter()
        .map(|(_, c)| request(Prompt::Tokens(ids(&c["ids"])), no_stop_greedy(32)))
        .collect();
    let out = engine().generate(&requests).unwrap();
    for ((name, case), g) in cases.iter().zip(&out) {
        assert_eq!(g.token_ids, ids(&case["greedy32"]["ids"]), "{name}");
        assert_eq!(g.finish_reason, FinishReason::Length);
        assert_eq!(g.logprobs.len(), 32);
    }
}

#[test]
fn stops_at_eos_where_transformers_does() {
    let case = &json_fixture("smollm2.json")["cases"]["plain_capital"];
    let g = engine()
        .generate(&[request(
            Prompt::Tokens(ids(&case["ids"])),
            SamplingParams::greedy(32),
        )])
        .unwrap()
        .remove(0);
    let eos_at = case["greedy32"]["first_eos_index"].as_u64().unwrap() as usize;
    assert_eq!(g.token_ids, ids(&case["greedy32"]["ids"])[..=eos_at]);
    assert_eq!(g.finish_reason, FinishReason::Eos);
    assert_eq!(g.text, " Paris.\n\nThe answer is: 2018-01-22 12:12:53.");
}

#[test]
fn long_chat_greedy_matches_for_200_tokens() {
    let case = &json_fixture("smollm2.json")["cases"]["chat_redteam_lockpick"];
    let messages = serde_json::from_value(case["messages"].clone()).unwrap();
    let g = engine()
        .generate(&[request(Prompt::Chat(messages), SamplingParams::greedy(200))])
        .unwrap()
        .remove(0);
    assert_eq!(g.token_ids, ids(&case["greedy_until_eos_max200"]["ids"]));
    assert_eq!(
        g.text,
        case["greedy_until_eos_max200"]["text"].as_str().unwrap()
    );
}

#[test]
fn end_strings_cut_exactly_across_token_boundaries() {
    let params = SamplingParams {
        end_strings: vec!["2018-".into(), ":53".into()],
        ..SamplingParams::greedy(40)
    };
    let g = engine()
        .generate(&[request(
            Prompt::Text("The capital of France is".into()),
            params,
        )])
        .unwrap()
        .remove(0);
    // "2018-" spans the tokens "2", "0", "1", "8", "-".
    assert_eq!(g.text, " Paris.\n\nThe answer is: ");
    assert_eq!(g.finish_reason, FinishReason::Stop);
    assert_eq!(g.stop_string.as_deref(), Some("2018-"));
    assert_eq!(
        engine()
            .model()
            .tokenizer
            .decode(&g.token_ids, false)
            .unwrap(),
        " Paris.\n\nThe answer is: 2018-"
    );
}

#[test]
fn min_tokens_delays_eos() {
    let params = SamplingParams {
        min_tokens_to_generate: 35,
        ..SamplingParams::greedy(35)
    };
    let g = engine()
        .generate(&[request(
            Prompt::Text("The capital of France is".into()),
            params,
        )])
        .unwrap()
        .remove(0);
    assert_eq!(g.token_ids.len(), 35);
    assert!(
        !g.token_ids.contains(&2),
        "EOS was banned before min_tokens"
    );
}

#[test]
fn seeded_sampling_repeats_whatever_else_is_in_the_batch() {
    let sampled = |seed| SamplingParams {
        temperature: 0.9,
        top_p: 0.95,
        random_seed: Some(seed),
        ..SamplingParams::default()
    };
    let prompt = || Prompt::Text("Once upon a time".into());
    let alone = engine()
        .generate(&[request(prompt(), sampled(11))])
        .unwrap()
        .remove(0);
    let with_others = engine()
        .generate(&[
            request(
                Prompt::Text(
                    "A much longer prompt about the history of mathematics in Europe".into(),
                ),
                sampled(5),
            ),
            request(prompt(), sampled(11)),
            request(Prompt::Text("Hi".into()), SamplingParams::greedy(3)),
        ])
        .unwrap();
    assert_eq!(with_others[1].token_ids, alone.token_ids);
    let other_seed = engine()
        .generate(&[request(prompt(), sampled(12))])
        .unwrap()
        .remove(0);
    assert_ne!(other_seed.token_ids, alone.token_ids);
}

#[test]
fn streamed_deltas_concatenate_to_the_final_text() {
    let params = SamplingParams {
        end_strings: vec![":53".into()],
        ..SamplingParams::greedy(40)
    };
    let mut streamed = vec![String::new(); 2];
    let out = engine()
        .generate_streaming(
            &[
                request(Prompt::Text("The capital of France is".into()), params),
                request(Prompt::Text("1, 2, 3,".into()), SamplingParams::greedy(10)),
            ],
            &mut |d: StreamDelta| streamed[d.index].push_str(&d.text),
        )
        .unwrap();
    assert_eq!(streamed[0], out[0].text);
    assert!(
        !streamed[0].contains(":5"),
        "held back the stop prefix: {:?}",
        streamed[0]
    );
    assert_eq!(streamed[1], out[1].text);
}

#[test]
fn a_long_prompt_asking_few_tokens_beside_a_short_one_asking_many() {
    // Left-padded to the long prompt, the batch needs room for the short one's many tokens too.
    let long = request(
        Prompt::Text("A much longer prompt about the history of mathematics in Europe".into()),
        no_stop_greedy(2),
    );
    let short = request(Prompt::Text("Hi".into()), no_stop_greedy(12));
    let together = engine().generate(&[long.clone(), short.clone()]).unwrap();
    for (batched, alone) in together.iter().zip([long, short]) {
        let alone = engine().generate(&[alone]).unwrap().remove(0);
        // The same tokens; log-probs only up to the float noise that padding brings.
        assert_eq!(batched.token_ids, alone.token_ids);
        assert_eq!(batched.finish_reason, alone.finish_reason);
        for (a, b) in batched.logprobs.iter().zip(&alone.logprobs) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
    assert_eq!(together[1].token_ids.len(), 12);
}

#[test]
fn independent_requests_never_share_state() {
    let a = request(
        Prompt::Text("Paris is the capital of".into()),
        SamplingParams::greedy(8),
    );
    let b = request(
        Prompt::Text("def fibonacci(n):".into()),
        SamplingParams::greedy(8),
    );
    let b_first = engine().generate(std::slice::from_ref(&b)).unwrap();
    engine().generate(&[a]).unwrap();
    let b_again = engine().generate(&[b]).unwrap();
    assert_eq!(b_first, b_again);
}

#[test]
fn invalid_parameters_name_the_field() {
    let params = SamplingParams {
        top_p: 1.5,
        ..SamplingParams::default()
    };
    let err = engine()
        .generate(&[request(Prompt::Text("x".into()), params)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("request 0") && err.contains("top_p"), "{err}");
}

#[test]
fn teacher_forced_scores_equal_sampling_logprobs() {
    let params = SamplingParams {
        temperature: 0.7,
        random_seed: Some(3),
        tokens_to_generate: 12,
        ..SamplingParams::default()
    };
    let prompts = ["The weather today is", "My favourite food"];
    let requests: Vec<_> = prompts
        .iter()
        .map(|p| request(Prompt::Text(p.to_string()), params.clone()))
        .collect();
    let out = engine().generate(&requests).unwrap();
    let model = engine().model();
    let pairs: Vec<_> = prompts
        .iter()
        .zip(&out)
        .map(|(p, g)| (model.tokenizer.encode(p).unwrap(), g.token_ids.clone()))
        .collect();
    let scores = model.score_continuations(&pairs).unwrap();
    for (g, s) in out.iter().zip(&scores) {
        let want: Vec<f64> = g.logprobs.iter().map(|&x| x as f64).collect();
        let diff = max_abs_diff(s, &want);
        assert!(diff < 1e-3, "cached sampling vs teacher forcing: {diff}");
    }
}

#[test]
fn prefill_in_blocks_of_queries_matches_transformers_greedy() {
    let cases = golden_cases();
    let prompts: Vec<Vec<u32>> = cases.iter().map(|(_, c)| ids(&c["ids"])).collect();
    let len = prompts.iter().map(Vec::len).max().unwrap();
    let heads = engine().model().config.num_attention_heads;
    // Room for 3 queries of the padded batch per forward call.
    let blocked = engine()
        .clone()
        .with_prefill_budget(prompts.len() * heads * 3 * len);
    assert_eq!(blocked.prefill_block(prompts.len(), len), 3.min(len));
    assert_eq!(engine().prefill_block(prompts.len(), len), len);
    let requests: Vec<_> = prompts
        .iter()
        .map(|p| request(Prompt::Tokens(p.clone()), no_stop_greedy(16)))
        .collect();
    let whole = engine().generate(&requests).unwrap();
    let out = blocked.generate(&requests).unwrap();
    for (((name, case), g), w) in cases.iter().zip(&out).zip(&whole) {
        assert_eq!(g.token_ids, ids(&case["greedy32"]["ids"])[..16], "{name}");
        let want: Vec<f64> = w.logprobs.iter().map(|&x| x as f64).collect();
        let diff = max_abs_diff(&g.logprobs, &want);
        assert!(diff < 1e-3, "{name}: blocked vs one-pass prefill: {diff}");
    }
}

#[test]
fn a_cancelled_request_leaves_the_batch_at_the_next_step() {
    let gone = std::cell::Cell::new(false);
    let requests = [
        request(Prompt::Text("Once upon a time".into()), no_stop_greedy(24)),
        request(Prompt::Text("1, 2, 3,".into()), no_stop_greedy(24)),
    ];
    let out = engine()
        .generate_cancellable(
            &requests,
            &mut |d: StreamDelta| gone.set(gone.get() || d.index == 0),
            &|i| i == 0 && gone.get(),
        )
        .unwrap();
    assert!(out[0].token_ids.len() < 4, "{:?}", out[0].token_ids);
    assert_eq!(out[0].finish_reason, FinishReason::Length);
    let alone = engine().generate(&requests[1..]).unwrap().remove(0);
    assert_eq!(out[1].token_ids, alone.token_ids);
}

#[test]
fn rows_join_a_running_batch_as_others_finish_and_still_match_transformers() {
    let cases = golden_cases();
    // Budgets so that short answers finish while the first, long one is still decoding.
    let budgets = [32, 3, 5, 2, 7, 4, 6, 3];
    let requests: Vec<_> = cases
        .iter()
        .cycle()
        .zip(budgets)
        .map(|((_, c), n)| request(Prompt::Tokens(ids(&c["ids"])), no_stop_greedy(n)))
        .collect();
    let mut order = Vec::new();
    let out = engine()
        .clone()
        .with_max_batch(2)
        .generate_counted(&requests, &mut |i| order.push(i))
        .unwrap();
    let whole = engine().generate(&requests).unwrap();
    for (((i, (name, case)), g), w) in cases.iter().cycle().enumerate().zip(&out).zip(&whole) {
        let golden = ids(&case["greedy32"]["ids"]);
        assert_eq!(g.token_ids, golden[..budgets[i]], "request {i} ({name})");
        let want: Vec<f64> = w.logprobs.iter().map(|&x| x as f64).collect();
        let diff = max_abs_diff(&g.logprobs, &want);
        assert!(diff < 1e-3, "request {i}: joined vs all-at-once: {diff}");
    }
    // The long request finished last: the others went through the second row around it.
    assert_eq!(order.len(), requests.len());
    assert_eq!(order.last(), Some(&0), "{order:?}");
    assert_eq!(order[0], 1, "{order:?}");
}
