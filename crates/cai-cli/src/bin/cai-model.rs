//! `cai-model`: inspect, tokenize, score and convert models from the command line.
//!
//! The output formats are a contract other tools script against: keep them stable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use std::io::{BufRead, Write};

use cai_cli::{ModelArgs, SamplingArgs, check_output_dir, init_process};
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
    ///
    /// Samples at temperature 0.5, top-p 0.9, repetition penalty 1.1, up to 256 tokens, unless
    /// told otherwise: at the shared defaults (temperature 1, no top-p) a 135M model rambles.
    #[command(
        mut_arg("temperature", |a| a.default_value(CHAT_TEMPERATURE)),
        mut_arg("top_p", |a| a.default_value(CHAT_TOP_P)),
        mut_arg("repetition_penalty", |a| a.default_value(CHAT_REPETITION_PENALTY)),
        mut_arg("max_tokens", |a| a.default_value(CHAT_MAX_TOKENS)),
    )]
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

/// `chat`'s sampling defaults (the other subcommands keep the shared ones), measured on the
/// default SmolLM2-135M-Instruct (Q4_1) over eight everyday questions and three seeds: its model
/// card samples at temperature 0.2 with top-p 0.9; at 0.3–0.7 without a penalty a third of the
/// answers fall into loops ("la femme, la femme, …"), which a penalty of 1.1 removed, and 0.5
/// kept more answers on topic than 0.7.
const CHAT_TEMPERATURE: &str = "0.5";
const CHAT_TOP_P: &str = "0.9";
const CHAT_REPETITION_PENALTY: &str = "1.1";
const CHAT_MAX_TOKENS: &str = "256";

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
        } => chat_repl(
            &Engine::new(model.load()?),
            &sampling,
            system,
            std::io::stdin().lock(),
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )
        .map(drop)?,
        Command::Save { model, out } => {
            check_output_dir("--out", &out)?;
            let m = model.load()?;
            m.save_hf(&out)?;
            println!("{}", out.display());
        }
    }
    Ok(())
}

/// What the chat loop does with one line of input.
#[derive(Debug, PartialEq, Eq)]
enum ChatLine<'a> {
    Empty,
    Quit,
    Reset,
    User(&'a str),
}

impl<'a> ChatLine<'a> {
    fn parse(line: &'a str) -> Self {
        match line.trim() {
            "" => Self::Empty,
            "/quit" | "/exit" => Self::Quit,
            "/reset" => Self::Reset,
            text => Self::User(text),
        }
    }
}

/// Printed after `/reset`.
const CLEARED: &str = "(conversation cleared)";

/// The chat loop over `input`: answers stream to `out`; the prompt and notices go to `ui`.
/// Returns the conversation as it stood at the end.
fn chat_repl(
    engine: &Engine,
    sampling: &SamplingArgs,
    system: Option<String>,
    mut input: impl BufRead,
    out: &mut impl Write,
    ui: &mut impl Write,
) -> Result<Vec<Message>> {
    let initial: Vec<Message> = system.into_iter().map(Message::system).collect();
    let mut history = initial.clone();
    writeln!(
        ui,
        "chat with {} (/reset clears the conversation, /quit leaves)",
        engine.model().origin.path().display()
    )?;
    loop {
        write!(ui, "> ")?;
        ui.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(history);
        }
        match ChatLine::parse(&line) {
            ChatLine::Empty => continue,
            ChatLine::Quit => return Ok(history),
            ChatLine::Reset => {
                history = initial.clone();
                writeln!(ui, "{CLEARED}")?;
                continue;
            }
            ChatLine::User(text) => history.push(Message::user(text)),
        }
        let request = GenerationRequest {
            prompt: Prompt::Chat(history.clone()),
            params: sampling.params(),
        };
        let mut print = |d: StreamDelta| {
            let _ = write!(out, "{}", d.text);
            let _ = out.flush();
        };
        let g = engine.generate_streaming(&[request], &mut print)?.remove(0);
        writeln!(out)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use cai_model::Role;
    use cai_model::burn::tensor::Device;
    use clap::CommandFactory;

    fn sampling_of(args: &[&str]) -> SamplingArgs {
        match Cli::parse_from(args).command {
            Command::Chat { sampling, .. } | Command::Generate { sampling, .. } => sampling,
            _ => unreachable!(),
        }
    }

    #[test]
    fn chat_samples_coherently_by_default_and_generate_keeps_the_shared_defaults() {
        Cli::command().debug_assert();
        let chat = sampling_of(&["cai-model", "chat"]);
        assert_eq!(
            (
                chat.temperature,
                chat.top_p,
                chat.repetition_penalty,
                chat.max_tokens
            ),
            (0.5, 0.9, 1.1, 256)
        );
        assert!(!chat.greedy);
        let chat = sampling_of(&["cai-model", "chat", "--temperature", "0.2", "--top-p", "1"]);
        assert_eq!((chat.temperature, chat.top_p), (0.2, 1.0));
        let generate = sampling_of(&["cai-model", "generate", "--text", "x"]);
        assert_eq!(
            (
                generate.temperature,
                generate.top_p,
                generate.repetition_penalty,
                generate.max_tokens
            ),
            (1.0, 1.0, 1.0, 128)
        );
    }

    #[test]
    fn chat_lines_are_commands_or_messages() {
        assert_eq!(ChatLine::parse("  \n"), ChatLine::Empty);
        assert_eq!(ChatLine::parse("/reset\n"), ChatLine::Reset);
        assert_eq!(ChatLine::parse("/exit"), ChatLine::Quit);
        assert_eq!(ChatLine::parse(" hi there \n"), ChatLine::User("hi there"));
    }

    #[test]
    fn reset_says_so_and_every_message_gets_an_answer() {
        let engine = Engine::new(cai_model::testing::tiny_model("chatml", Device::flex()));
        let mut sampling = sampling_of(&["cai-model", "chat", "--seed", "1"]);
        sampling.max_tokens = 4;
        let input: &[u8] = b"hello\n/reset\n\nagain\n/quit\nnot read\n";
        let (mut out, mut ui) = (Vec::new(), Vec::new());
        let system = Some("Be brief.".to_string());
        let history = chat_repl(&engine, &sampling, system, input, &mut out, &mut ui).unwrap();
        let ui = String::from_utf8(ui).unwrap();
        assert_eq!(ui.matches(CLEARED).count(), 1, "{ui}");
        assert_eq!(ui.matches("> ").count(), 5, "{ui}");
        // The reset kept the system message and dropped the first exchange.
        let roles: Vec<Role> = history.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::Assistant]);
        assert_eq!(history[1].content, "again");
        assert!(!out.is_empty());
    }
}
