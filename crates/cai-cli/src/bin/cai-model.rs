//! `cai-model`: inspect, tokenize, score and convert models from the command line.
//!
//! The output formats are a contract other tools script against: keep them stable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use std::io::{BufRead, Write};

use cai_cli::{ModelArgs, SamplingArgs, init_process};
use cai_model::generate::StreamDelta;
use cai_model::{Engine, GenerationRequest, LoadedModel, Message, Prompt, masked_mean_nll, source};
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
    /// Generate a continuation; prints `{"ids", "text", "finish_reason", "logprobs"}`.
    Generate {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        sampling: SamplingArgs,
    },
    /// Interactive chat with streaming output (`/reset` clears the history, `/quit` leaves).
    Chat {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        sampling: SamplingArgs,
        /// System message.
        #[arg(long)]
        system: Option<String>,
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
        Command::Generate {
            model,
            input,
            sampling,
        } => {
            let engine = Engine::new(model.load()?);
            let prompt = match (&input.text, &input.chat) {
                (Some(text), _) => Prompt::Text(text.clone()),
                (None, Some(chat)) => Prompt::Chat(read_chat(chat)?),
                (None, None) => bail!("give --text or --chat"),
            };
            let request = GenerationRequest {
                prompt,
                params: sampling.params(),
            };
            let g = engine.generate(&[request])?.remove(0);
            let out = json!({"ids": g.token_ids, "text": g.text,
                             "finish_reason": g.finish_reason, "logprobs": g.logprobs});
            println!("{out}");
        }
        Command::Chat {
            model,
            sampling,
            system,
        } => chat_repl(&Engine::new(model.load()?), &sampling, system)?,
        Command::Save { model, out } => {
            let m = model.load()?;
            m.save_hf(&out)?;
            println!("{}", out.display());
        }
    }
    Ok(())
}

fn chat_repl(engine: &Engine, sampling: &SamplingArgs, system: Option<String>) -> Result<()> {
    let initial: Vec<Message> = system.into_iter().map(Message::system).collect();
    let mut history = initial.clone();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    eprintln!(
        "chat with {} (/reset, /quit)",
        engine.model().origin.path().display()
    );
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(());
        }
        match line.trim() {
            "" => continue,
            "/quit" | "/exit" => return Ok(()),
            "/reset" => {
                history = initial.clone();
                continue;
            }
            text => history.push(Message::user(text)),
        }
        let request = GenerationRequest {
            prompt: Prompt::Chat(history.clone()),
            params: sampling.params(),
        };
        let mut print = |d: StreamDelta| {
            let _ = write!(stdout, "{}", d.text);
            let _ = stdout.flush();
        };
        let g = engine.generate_streaming(&[request], &mut print)?.remove(0);
        println!();
        history.push(Message::assistant(g.text));
    }
}

fn main() -> ExitCode {
    init_process();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
