//! Anthropic hh-rlhf transcripts (`"\n\nHuman: …\n\nAssistant: …"`): parsing exactly as NeMo does, and writing back.

use serde::{Deserialize, Serialize};

use crate::records::{Message, Role};

/// A `red-team-attempts` line; only `transcript` is used, other keys are ignored.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RedTeamAttempt {
    /// The whole conversation.
    pub transcript: String,
}

/// A `helpful-*` / `harmless-*` line: two transcripts that differ only in the last assistant turn.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct HhPair {
    /// The preferred transcript.
    pub chosen: String,
    /// The dispreferred transcript.
    pub rejected: String,
}

/// Why a transcript was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// No `Human:` marker.
    NoHumanTurn,
    /// No `Assistant:` marker after the first `Human:`.
    NoAssistantTurn,
    /// The first human turn is empty after stripping.
    EmptyPrompt,
    /// A turn does not split into exactly one human and one assistant part, or a part is empty.
    MalformedTurn,
    /// Chosen and rejected have different prompts.
    PromptMismatch,
}

impl Malformed {
    /// Short reason used in skip counts.
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::NoHumanTurn => "no Human turn",
            Malformed::NoAssistantTurn => "no Assistant turn after the Human turn",
            Malformed::EmptyPrompt => "empty prompt",
            Malformed::MalformedTurn => "malformed Human/Assistant turn",
            Malformed::PromptMismatch => "chosen and rejected prompts differ",
        }
    }
}

/// The first human turn of a transcript, as NeMo's `get_red_team_train_human_prompts` extracts it:
/// the text between the first `Human:` and the first `Assistant:`, stripped.
pub fn first_human_turn(transcript: &str) -> Result<String, Malformed> {
    let h = transcript.find("Human:").ok_or(Malformed::NoHumanTurn)?;
    let a = transcript
        .find("Assistant:")
        .ok_or(Malformed::NoAssistantTurn)?;
    if a <= h {
        return Err(Malformed::NoAssistantTurn);
    }
    let prompt = transcript[h + "Human:".len()..a].trim();
    if prompt.is_empty() {
        return Err(Malformed::EmptyPrompt);
    }
    Ok(prompt.to_string())
}

/// Parses a transcript into alternating user/assistant messages, as NeMo's `convert_string_format`:
/// split on `"\n\nHuman: "`, each part must split on `"\n\nAssistant: "` into exactly two non-empty parts.
pub fn parse_transcript(text: &str) -> Result<Vec<Message>, Malformed> {
    let mut messages = Vec::new();
    for part in text
        .split("\n\nHuman: ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let pieces: Vec<&str> = part.split("\n\nAssistant: ").collect();
        let [body, response] = pieces[..] else {
            return Err(Malformed::MalformedTurn);
        };
        let mut response = response;
        for tail in ["\n\nHuman: ", "\n\nHuman:", "\n\nHuman"] {
            if let Some(r) = response.strip_suffix(tail) {
                response = r;
                break;
            }
        }
        let (body, response) = (body.trim(), response.trim());
        if body.is_empty() || response.is_empty() {
            return Err(Malformed::MalformedTurn);
        }
        messages.push(Message::user(body));
        messages.push(Message::assistant(response));
    }
    if messages.is_empty() {
        return Err(Malformed::MalformedTurn);
    }
    Ok(messages)
}

/// A parsed chosen/rejected pair: the shared prompt messages and the two final answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedPair {
    /// Messages before the final answer (ends with a user message).
    pub prompt: Vec<Message>,
    /// Final chosen answer.
    pub chosen: String,
    /// Final rejected answer.
    pub rejected: String,
}

/// Parses both transcripts of a pair; kept only if both parse and their prompts are identical.
pub fn parse_pair(pair: &HhPair) -> Result<ParsedPair, Malformed> {
    let mut chosen = parse_transcript(&pair.chosen)?;
    let mut rejected = parse_transcript(&pair.rejected)?;
    let (Some(c), Some(r)) = (chosen.pop(), rejected.pop()) else {
        return Err(Malformed::MalformedTurn);
    };
    if chosen != rejected {
        return Err(Malformed::PromptMismatch);
    }
    Ok(ParsedPair {
        prompt: chosen,
        chosen: c.content,
        rejected: r.content,
    })
}

/// Renders messages back into hh-rlhf transcript form.
pub fn to_transcript(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Assistant => format!("\n\nAssistant: {}", m.content),
            Role::User | Role::System => format!("\n\nHuman: {}", m.content),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_turn_only() {
        let t = "\n\nHuman: How do I pick a lock?\n\nAssistant: Why?\n\nHuman: Just curious\n\nAssistant: No.";
        assert_eq!(first_human_turn(t).unwrap(), "How do I pick a lock?");
        assert_eq!(
            first_human_turn("\n\nAssistant: hi\n\nHuman: x"),
            Err(Malformed::NoAssistantTurn)
        );
        assert_eq!(first_human_turn("no markers"), Err(Malformed::NoHumanTurn));
        assert_eq!(
            first_human_turn("Human:   \nAssistant: x"),
            Err(Malformed::EmptyPrompt)
        );
    }

    #[test]
    fn trailing_human_marker_is_stripped() {
        let m = parse_transcript("\n\nHuman: a\n\nAssistant: b\n\nHuman:").unwrap();
        assert_eq!(m, vec![Message::user("a"), Message::assistant("b")]);
    }

    #[test]
    fn empty_final_answer_is_malformed() {
        assert_eq!(
            parse_transcript("\n\nHuman: a\n\nAssistant:"),
            Err(Malformed::MalformedTurn)
        );
        assert_eq!(
            parse_transcript("\n\nHuman: a\n\nAssistant: b\n\nAssistant: c"),
            Err(Malformed::MalformedTurn)
        );
    }

    #[test]
    fn transcript_round_trips() {
        let m = vec![
            Message::user("q1"),
            Message::assistant("a1"),
            Message::user("q2"),
            Message::assistant("a2"),
        ];
        assert_eq!(parse_transcript(&to_transcript(&m)).unwrap(), m);
    }

    #[test]
    fn pair_prompts_must_match() {
        let pair = HhPair {
            chosen: "\n\nHuman: a\n\nAssistant: b".into(),
            rejected: "\n\nHuman: x\n\nAssistant: c".into(),
        };
        assert_eq!(parse_pair(&pair), Err(Malformed::PromptMismatch));
    }
}
