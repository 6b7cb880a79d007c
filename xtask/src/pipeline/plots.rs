//! The report's plots, as SVG files next to it: SFT loss, reward-model validation accuracy, PPO
//! reward and KL, and PPO response length, each per step, read from the stages' `metrics.jsonl`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cai_data::RunDir;
use plotters::prelude::*;
use serde_json::Value;

/// A named line of `(step, value)` points.
type Line<'a> = (&'a str, Vec<(f64, f64)>);

/// One series: `(step, value)` of metric `key` in lines of split `split`.
fn series(metrics: &Path, split: &str, key: &str) -> Vec<(f64, f64)> {
    let Ok(text) = std::fs::read_to_string(metrics) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["split"] == split)
        .filter_map(|m| Some((m["step"].as_f64()?, m[key].as_f64()?)))
        .collect()
}

/// Draws `lines` (name, points) into an SVG at `path`; nothing when there is no point.
fn draw(path: &Path, title: &str, lines: &[Line<'_>]) -> Result<bool> {
    let points: Vec<&(f64, f64)> = lines.iter().flat_map(|(_, p)| p).collect();
    if points.is_empty() {
        return Ok(false);
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((y1 - y0).abs() * 0.1).max(1e-3);
    let root = SVGBackend::new(path, (640, 320)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1.max(x0 + 1.0), (y0 - pad)..(y1 + pad))?;
    chart.configure_mesh().x_desc("step").draw()?;
    for (i, (name, pts)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// Writes the plots of `run` under `RUN/plots/` and returns them as `(title, path relative to
/// the run directory)`.
pub fn write(run: &RunDir) -> Result<Vec<(String, PathBuf)>> {
    let dir = run.root().join("plots");
    std::fs::create_dir_all(&dir)?;
    let sft = run.sft().join("metrics.jsonl");
    let rm = run.reward_model().join("metrics.jsonl");
    let ppo = run.ppo().join("metrics.jsonl");
    let plots: [(&str, &str, Vec<Line<'_>>); 4] = [
        (
            "sft-loss.svg",
            "SFT loss",
            vec![
                ("train", series(&sft, "train", "loss")),
                ("validation", series(&sft, "validation", "loss")),
            ],
        ),
        (
            "rm-accuracy.svg",
            "Reward model: validation accuracy",
            vec![("accuracy", series(&rm, "validation", "acc"))],
        ),
        (
            "ppo-reward-kl.svg",
            "PPO: reward and KL to the reference",
            vec![
                ("reward", series(&ppo, "train", "rewards")),
                ("KL", series(&ppo, "train", "init_policy_kl")),
                ("validation reward", series(&ppo, "train", "val_rewards")),
            ],
        ),
        (
            "ppo-length.svg",
            "PPO: response tokens",
            vec![("tokens", series(&ppo, "train", "generation_length"))],
        ),
    ];
    let mut written = Vec::new();
    for (file, title, lines) in plots {
        if draw(&dir.join(file), title, &lines)? {
            written.push((title.to_string(), Path::new("plots").join(file)));
        }
    }
    Ok(written)
}
