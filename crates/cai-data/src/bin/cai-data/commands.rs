//! Subcommands of the `cai-data` binary: thin wrappers over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cai_data::convert::{self, ConvertOptions, Format, TrlKeys};
use cai_data::hub::{self, HubFile, HubOptions};
use cai_data::schema::Schema;
use cai_data::stats::{self, LengthUnit};
use cai_data::template::{EndStyle, PromptTemplate};
use cai_data::{Constitution, corpus, jsonl};
use clap::{Parser, Subcommand, ValueEnum};

/// Validate, convert and inspect cai-rs dataset files.
#[derive(Parser)]
#[command(name = "cai-data", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every record of FILE against a schema; prints `FILE:LINE: field: reason` per bad record.
    Validate {
        /// JSONL or JSON-array file, plain or gzip.
        file: PathBuf,
        /// Schema name (a file in data-schemas/ without `.json`) or a schema file path.
        #[arg(long)]
        schema: String,
    },
    /// Convert IN from one layout to another; prints how many records were written and skipped.
    Convert {
        /// Input layout.
        #[arg(long, value_parser = parse_format)]
        from: Format,
        /// Output layout.
        #[arg(long, value_parser = parse_format)]
        to: Format,
        /// Input file (a directory for nemo-rm), or hf://datasets/OWNER/NAME/PATH[@REV].
        input: String,
        /// Output file (a directory for nemo-rm).
        output: PathBuf,
        /// Chat template for nemo-rm: `extra-id` (default), `mistral`, `chatml`, `smollm2`, or a TOML/JSON template file.
        #[arg(long, default_value = "extra-id")]
        template: String,
        /// Ending of nemo-rm comparison texts: `newline` ("…\n<eos>", SFT/PPO/HH) or `bare` ("…<eos>", NeMo RL-CAI).
        #[arg(long, value_enum, default_value_t = End::Newline)]
        end: End,
        /// Fail on the first bad record instead of skipping it.
        #[arg(long)]
        strict: bool,
        /// Source/dataset name recorded in the output (default: input file stem).
        #[arg(long)]
        source: Option<String>,
        /// Prefix for nemo-rm file names.
        #[arg(long)]
        prefix: Option<String>,
        /// Write TRL records as message lists.
        #[arg(long)]
        messages: bool,
        /// TRL/OpenRLHF prompt key.
        #[arg(long, default_value = "prompt")]
        prompt_key: String,
        /// TRL/OpenRLHF chosen key.
        #[arg(long, default_value = "chosen")]
        chosen_key: String,
        /// TRL/OpenRLHF rejected key.
        #[arg(long, default_value = "rejected")]
        rejected_key: String,
    },
    /// Count records and show text-length distributions.
    Stats {
        /// JSONL or JSON-array file, plain or gzip.
        file: PathBuf,
        /// tokenizer.json to count tokens with (default: whitespace words).
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fetch files of a Hugging Face dataset repo (e.g. Anthropic/hh-rlhf 'red-team-attempts/*.jsonl.gz').
    Download {
        /// Dataset repo, `owner/name`.
        repo: String,
        /// Paths in the repo; `*` wildcards are matched against the repo's file list.
        #[arg(required = true)]
        files: Vec<String>,
        /// Branch, tag or commit.
        #[arg(long, default_value = "main")]
        revision: String,
        /// Copy the files here (default: only print their cache paths).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write one part of the built-in corpus as JSONL.
    Corpus {
        /// Which part.
        #[arg(value_enum)]
        part: CorpusPart,
        /// Output file.
        output: PathBuf,
    },
    /// Load constitution files (merged in order) and print a summary; no file shows the built-in one.
    Constitution {
        /// Our TOML/JSON, Anthropic, NeMo few-shot or Hugging Face files.
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum End {
    Newline,
    Bare,
}

#[derive(Clone, Copy, ValueEnum)]
enum CorpusPart {
    RedTeam,
    HelpfulChats,
    HelpfulPairs,
    EvalRedTeam,
    EvalBenign,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: cai_data::Error| e.to_string())
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> Result<ExitCode> {
        match self.command {
            Command::Validate { file, schema } => validate(&file, &schema),
            Command::Convert {
                from,
                to,
                input,
                output,
                template,
                end,
                strict,
                source,
                prefix,
                messages,
                prompt_key,
                chosen_key,
                rejected_key,
            } => {
                let options = ConvertOptions {
                    template: PromptTemplate::load(&template)?,
                    end_style: match end {
                        End::Newline => EndStyle::Newline,
                        End::Bare => EndStyle::Bare,
                    },
                    strict,
                    trl_keys: TrlKeys {
                        prompt: prompt_key,
                        chosen: chosen_key,
                        rejected: rejected_key,
                    },
                    trl_messages: messages,
                    source,
                    nemo_prefix: prefix,
                };
                let input = hub::resolve(&input, &HubOptions::from_env())?;
                let report =
                    convert::convert(from, to, &input, &output, &options).with_context(|| {
                        format!("converting {} from {from} to {to}", input.display())
                    })?;
                println!("{report}");
                if report.written == 0 && report.skipped_total() > 0 {
                    // Nothing usable came out: a script must not go on with an empty file.
                    eprintln!(
                        "error: every record of {} was skipped; nothing was converted",
                        input.display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Stats {
                file,
                tokenizer,
                json,
            } => {
                let unit = match &tokenizer {
                    Some(path) => LengthUnit::tokenizer(path)?,
                    None => {
                        eprintln!(
                            "note: no --tokenizer given, counting whitespace-separated words"
                        );
                        LengthUnit::Words
                    }
                };
                let stats = stats::file_stats(&file, &unit)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&stats.to_json(&unit))?);
                } else {
                    print!("{}", stats.render(&unit));
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Download {
                repo,
                files,
                revision,
                out,
            } => download(&repo, &files, &revision, out.as_deref()),
            Command::Corpus { part, output } => {
                let n = match part {
                    CorpusPart::RedTeam => write(&output, &corpus::red_team_prompts())?,
                    CorpusPart::HelpfulChats => write(&output, &corpus::helpful_chats())?,
                    CorpusPart::HelpfulPairs => write(&output, &corpus::helpful_pairs())?,
                    CorpusPart::EvalRedTeam => write(&output, &corpus::eval_red_team())?,
                    CorpusPart::EvalBenign => write(&output, &corpus::eval_benign())?,
                };
                println!("wrote {n} records to {}", output.display());
                Ok(ExitCode::SUCCESS)
            }
            Command::Constitution { files } => {
                let c = if files.is_empty() {
                    Constitution::builtin()
                } else {
                    Constitution::load_all(&files)?
                };
                println!("name: {}", c.name);
                println!(
                    "critique/revision principles: {}",
                    c.critique_revision.len()
                );
                for p in &c.critique_revision {
                    println!("  {}: {}", p.id, p.critique_request);
                }
                println!("judge principles: {}", c.judge_principles.len());
                for p in &c.judge_principles {
                    println!("  {}: {}", p.id, p.text);
                }
                println!("few-shot demonstrations: {}", c.few_shot.len());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn write<T: serde::Serialize>(path: &Path, records: &[T]) -> Result<usize> {
    jsonl::write_jsonl_atomic(path, records)?;
    Ok(records.len())
}

fn validate(file: &Path, schema: &str) -> Result<ExitCode> {
    let schema = Schema::load(schema)?;
    let report = match schema.validate_file(file) {
        Ok(report) => report,
        Err(err) => {
            println!("{err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for err in &report.errors {
        println!("{err}");
    }
    let bad = report.errors.len();
    eprintln!(
        "{}: {} records, {} invalid (schema {})",
        file.display(),
        report.records,
        bad,
        schema.name()
    );
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn download(repo: &str, files: &[String], revision: &str, out: Option<&Path>) -> Result<ExitCode> {
    let options = HubOptions::from_env();
    let mut paths = Vec::new();
    for pattern in files {
        let names = if pattern.contains('*') {
            hub::list(repo, revision, pattern, &options)?
        } else {
            vec![pattern.clone()]
        };
        if names.is_empty() {
            bail!("no file in {repo}@{revision} matches {pattern}");
        }
        for name in names {
            let file = HubFile {
                repo: repo.into(),
                path: name.clone(),
                revision: revision.into(),
            };
            paths.push((name, hub::fetch(&file, &options)?));
        }
    }
    for (name, cached) in paths {
        let local = match out {
            Some(dir) => {
                let target = dir.join(&name);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::copy(&cached, &target)
                    .with_context(|| format!("copying to {}", target.display()))?;
                target
            }
            None => cached,
        };
        println!("{}", local.display());
    }
    Ok(ExitCode::SUCCESS)
}
