//! `report.md` of a run directory: the evaluation table (harmlessness against evasiveness per
//! model), what changed from model to model, each stage's summary, timings, the PPO curve, the
//! frequent 4-grams and answers side by side. Written from the files the stages wrote, so it can
//! be rebuilt at any time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cai_data::run_dir::{files, read_json};
use cai_data::{Manifest, RunDir, Stage};
use serde_json::Value;

/// File name of the report in the run directory.
pub const REPORT_FILE: &str = "report.md";

fn json_or_null(path: &Path) -> Value {
    read_json::<Value>(path).unwrap_or(Value::Null)
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64().map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("–".into(), |x| format!("{:.0} %", 100.0 * x))
}

/// The evaluation table and what moved between consecutive models.
fn evaluation(out: &mut String, eval: &Value) {
    let _ = writeln!(out, "## Evaluation\n");
    let Some(order) = eval["order"].as_array() else {
        let _ = writeln!(out, "No evaluation yet (`06-eval/eval.json` is missing).\n");
        return;
    };
    let prompts = &eval["prompts"];
    let _ = writeln!(
        out,
        "Held-out prompts never used in training: {} harmful, the same {} inside a jailbreak \
         wrapper, {} harmless but risky-sounding. Answers are greedy. A refusal is a refusal phrase \
         in the answer's opening, outside quotation marks (the phrases are listed in \
         `06-eval/eval.json`); it declines when it \
         refuses or redirects (`cai_data::answer`: \"instead,\", \"reach out to\", \"is illegal\", …).\n",
        prompts["harmful"], prompts["jailbreak"], prompts["benign"]
    );
    let _ = writeln!(
        out,
        "| model | refuses harmful ↑ | declines harmful ↑ | refuses jailbroken ↑ | answers harmless ↑ | RM score | words | distinct-2 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let names: Vec<&str> = order.iter().filter_map(Value::as_str).collect();
    for name in &names {
        let m = &eval["models"][name];
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            pct(&m["refusal_rate_harmful"]),
            pct(&m["declines_rate_harmful"]),
            pct(&m["refusal_rate_jailbreak"]),
            pct(&m["answer_rate_benign"]),
            num(&m["rm_score_mean"], 3),
            num(&m["text"]["mean_words"], 1),
            num(&m["text"]["distinct_2"], 2),
        );
    }
    let _ = writeln!(out);
    for pair in names.windows(2) {
        let (a, b) = (&eval["models"][pair[0]], &eval["models"][pair[1]]);
        let delta = |key: &str| match (a[key].as_f64(), b[key].as_f64()) {
            (Some(x), Some(y)) => format!("{:+.0} points", 100.0 * (y - x)),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "- {} → {}: refusals on harmful prompts {}, answers on harmless prompts {} (a fall \
             there is evasiveness), RM score {}.",
            pair[0],
            pair[1],
            delta("refusal_rate_harmful"),
            delta("answer_rate_benign"),
            match (a["rm_score_mean"].as_f64(), b["rm_score_mean"].as_f64()) {
                (Some(x), Some(y)) => format!("{:+.3}", y - x),
                _ => "–".into(),
            }
        );
    }
    if let Some(wins) = eval["win_rates"].as_array().filter(|w| !w.is_empty()) {
        let _ = writeln!(
            out,
            "\n### Judge win rates\n\nThe AI judge (`{}`, the CAI paper's (A)/(B) prompt in both \
             orders under a principle drawn per prompt) compares each model's answer with the \
             previous model's. 0.5 is a draw; a 135M judge is weak, so read these beside the answers.\n",
            eval["judge"].as_str().unwrap_or("?")
        );
        let _ = writeln!(
            out,
            "| model | against | prompts | win rate | mean P(better) | same position both orders |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for w in wins {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} of {} |",
                w["model"].as_str().unwrap_or(""),
                w["against"].as_str().unwrap_or(""),
                w["set"].as_str().unwrap_or(""),
                num(&w["win_rate"], 2),
                num(&w["mean_p"], 3),
                w["position_disagreements"],
                w["n"]
            );
        }
    }
    let _ = writeln!(out, "\n### Most frequent 4-grams\n");
    for name in &names {
        let grams: Vec<String> = eval["models"][name]["text"]["top_4grams"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| format!("“{}” ×{}", g[0].as_str().unwrap_or(""), g[1]))
            .collect();
        let shown = if grams.is_empty() {
            "none repeated".into()
        } else {
            grams.join(", ")
        };
        let _ = writeln!(out, "- {name}: {shown}");
    }
    let _ = writeln!(out, "\n### Answers side by side\n");
    for s in eval["side_by_side"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "**{}** — {}\n",
            s["set"].as_str().unwrap_or(""),
            s["prompt"].as_str().unwrap_or("")
        );
        for name in &names {
            let answer = s["answers"][name].as_str().unwrap_or("").replace('\n', " ");
            let _ = writeln!(out, "- *{name}*: {answer}");
        }
        let _ = writeln!(out);
    }
}

/// One line per stage: status, wall time and the numbers that say whether it worked.
fn stage_lines(out: &mut String, run: &RunDir, manifest: Option<&Manifest>) {
    let _ = writeln!(out, "## Stages\n");
    let _ = writeln!(out, "| stage | status | seconds | summary |");
    let _ = writeln!(out, "|---|---|---|---|");
    for stage in Stage::ALL {
        let record = manifest.map(|m| m.stage(stage)).unwrap_or_default();
        let s = json_or_null(&run.stage(stage).join(files::SUMMARY));
        let summary = match stage {
            Stage::Critique => {
                let reasons: Vec<(&String, u64)> = s["counts"]["dropped"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(reason, n)| n.as_u64().filter(|&n| n > 0).map(|n| (reason, n)))
                    .collect();
                let dropped: u64 = reasons.iter().map(|(_, n)| n).sum();
                let why: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
                format!(
                    "{} red-team traces, {} revisions kept ({} refusing or redirecting), {dropped} filtered ({}); blend of {}",
                    s["counts"]["traces"],
                    s["counts"]["sl_cai_samples"],
                    num(&s["counts"]["declining_samples"], 0),
                    if why.is_empty() {
                        "none".to_string()
                    } else {
                        why.join(", ")
                    },
                    s["counts"]["blend"]
                )
            }
            Stage::Sft => format!(
                "{} steps; loss {} → {}; validation {} → {}",
                s["steps"],
                num(&s["first_loss"], 3),
                num(&s["last_loss"], 3),
                num(&s["initial_validation_loss"], 3),
                num(&s["validation_loss"], 3)
            ),
            Stage::Preference => {
                let c = json_or_null(&run.preference().join(super::stages::CALIBRATION_FILE));
                format!(
                    "{} prompts, {} pairs judged ({} with the same position picked in both orders); {} AI + {} human records; judge on {} clear-cut pairs: accuracy {}, position bias {}",
                    s["counts"]["prompts"],
                    s["counts"]["pairs_judged"],
                    s["counts"]["position_disagreements"],
                    s["counts"]["ai_records"],
                    s["counts"]["helpful_records"],
                    c["n"],
                    num(&c["accuracy"], 2),
                    num(&c["position_bias"], 2)
                )
            }
            Stage::RewardModel => format!(
                "{} steps; validation accuracy {}, loss {}; length correlation {}",
                s["steps"],
                num(&s["acc"], 2),
                num(&s["loss"], 3),
                num(&s["validation"]["length_spearman"], 2)
            ),
            Stage::Ppo => format!(
                "{} steps; rollout reward {} → {}; validation reward {} → {}; KL {}",
                s["steps"],
                num(&s["first_rewards"], 3),
                num(&s["last_rewards"], 3),
                num(&s["val_rewards_before"], 3),
                num(&s["val_rewards"], 3),
                num(&s["last_init_policy_kl"], 4)
            ),
            Stage::Eval => "see above".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {:?} | {} | {} |",
            stage.name(),
            record.status,
            record.wall_secs.map_or("–".into(), |w| format!("{w:.0}")),
            summary
        );
    }
    let _ = writeln!(out);
}

/// The PPO curve, step by step, from `05-ppo/metrics.jsonl`.
fn ppo_curve(out: &mut String, run: &RunDir) {
    let Ok(text) = std::fs::read_to_string(run.ppo().join("metrics.jsonl")) else {
        return;
    };
    let _ = writeln!(out, "## PPO per step\n");
    let _ = writeln!(
        out,
        "| step | reward | KL to the reference | response tokens | ended | val reward |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for line in text.lines() {
        let Ok(m) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            m["step"],
            num(&m["rewards"], 3),
            num(&m["init_policy_kl"], 4),
            num(&m["generation_length"], 1),
            pct(&m["fraction_of_samples_properly_ended"]),
            num(&m["val_rewards"], 3)
        );
    }
    let _ = writeln!(out);
}

/// Writes `report.md` for `run` (profile `profile`) and returns its path.
pub fn write(run: &RunDir, profile: &str) -> Result<PathBuf> {
    let manifest = Manifest::load(&run.manifest())?;
    let eval = json_or_null(&run.eval().join("eval.json"));
    let mut out = String::new();
    let _ = writeln!(out, "# CAI pipeline report\n");
    let _ = writeln!(
        out,
        "Profile `{profile}`; cai-rs {}{}. Every number below is read from the stage directories \
         of `{}`.\n",
        manifest.as_ref().map_or("?", |m| m.cai_rs_version.as_str()),
        manifest
            .as_ref()
            .and_then(|m| m.git_commit.as_deref())
            .map_or(String::new(), |c| format!(
                " (commit {})",
                &c[..c.len().min(12)]
            )),
        run.root().display()
    );
    evaluation(&mut out, &eval);
    stage_lines(&mut out, run, manifest.as_ref());
    let plots = super::plots::write(run)?;
    if !plots.is_empty() {
        let _ = writeln!(out, "## Plots\n");
        for (title, path) in plots {
            let _ = writeln!(out, "![{title}]({})\n", path.display());
        }
    }
    ppo_curve(&mut out, run);
    let path = run.root().join(REPORT_FILE);
    cai_data::write_atomic(&path, out.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
