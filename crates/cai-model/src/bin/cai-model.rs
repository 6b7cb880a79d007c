//! `cai-model`: inspect, tokenize, score and convert models from the command line.
//!
//! The output formats are a contract other tools script against: keep them stable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cai_model::cli::{ModelArgs, init_logging};
use cai_model::{LoadedModel, Message, masked_mean_nll, source};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "cai-model",
    version,
    about = "Llama/Mistral model core of cai-rs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Text input: a plain string or a chat file.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Input {
    /// Plain text (BOS added when the model asks for it).
    #[arg(long)]
    text: Option<String>,
    /// A JSON list of `{"role", "content"}` messages, rendered with the chat template.
    #[arg(long)]
    chat: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Download the default model if missing and print its path.
    Fetch,
    /// Print architecture, configuration, parameter count and dtype.
    Info {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Print token ids as JSON.
    Tokenize {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        input: Input,
    },
    /// Print `{"ids", "logprobs"}` where `logprobs[t] = log p(ids[t+1] | ids[..=t])`.
    Logprobs {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        input: Input,
        /// Also print `assistant_mean_nll` over the assistant tokens (needs --chat).
        #[arg(long)]
        assistant_only: bool,
    },
    /// Write the model in Hugging Face layout (converts GGUF to safetensors).
    Save {
        #[command(flatten)]
        model: ModelArgs,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

fn read_chat(path: &PathBuf) -> Result<Vec<Message>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected a JSON list of {{\"role\", \"content\"}} messages",
            path.display()
        )
    })
}

fn encode(model: &LoadedModel, input: &Input) -> Result<Vec<u32>> {
    Ok(match (&input.text, &input.chat) {
        (Some(text), _) => model.tokenizer.encode(text)?,
        (None, Some(chat)) => model.encode_chat(&read_chat(chat)?, false)?,
        (None, None) => bail!("give --text or --chat"),
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fetch => {
            let local = source::fetch_default_model()?;
            println!("{}", local.path().display());
        }
        Command::Info { model } => {
            let m = model.load()?;
            let out = json!({
                "origin": m.origin.path(),
                "architecture": m.config.architecture.hf_class(),
                "config": m.config,
                "parameters": m.config.parameter_count(),
                "dtype": model.dtype,
                "device": model.device,
                "vocab_size_tokenizer": m.tokenizer.vocab_size(),
                "chat_template": m.chat_template.is_some(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Tokenize { model, input } => {
            let m = model.load()?;
            println!("{}", serde_json::to_string(&encode(&m, &input)?)?);
        }
        Command::Logprobs {
            model,
            input,
            assistant_only,
        } => {
            let m = model.load()?;
            let (ids, mask) = match (&input.chat, assistant_only) {
                (Some(chat), true) => {
                    let enc = m.encode_chat_with_mask(&read_chat(chat)?)?;
                    (enc.ids, Some(enc.assistant_mask))
                }
                (None, true) => bail!("--assistant-only needs --chat"),
                _ => (encode(&m, &input)?, None),
            };
            let logprobs = m.token_logprobs(std::slice::from_ref(&ids))?.remove(0);
            let mut out = json!({"ids": ids, "logprobs": logprobs});
            if let Some(mask) = mask {
                out["assistant_mean_nll"] = json!(masked_mean_nll(&logprobs, &mask));
            }
            println!("{out}");
        }
        Command::Save { model, out } => {
            let m = model.load()?;
            m.save_hf(&out)?;
            println!("{}", out.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    init_logging();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
