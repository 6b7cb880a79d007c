//! The conversations sent to the model at each step, as message lists for the chat template.
//!
//! Every conversation starts with the same prefix: an optional system message, then the
//! constitution's demonstrations flattened into prior turns (NeMo's few-shot layout: prompt,
//! answer, critique request, critique, revision request, revision). Then, for round `r`:
//!
//! ```text
//! initial:  prefix + [user: prompt]
//! critique: prefix + [user: prompt, assistant: answer_r, user: critique request]
//! revision: prefix + [user: prompt, assistant: answer_r, user: critique request,
//!                     assistant: critique, user: revision request]
//! ```
//!
//! `answer_0` is the initial response and `answer_r` the revision of round `r - 1`, so every round
//! has the demonstrations' shape and the context does not grow with the number of rounds.

use cai_data::{FewShotExample, Message};

/// The prefix of every conversation: the system message (if any), then the demonstrations.
pub fn prefix(system: Option<&str>, few_shot: &[FewShotExample]) -> Vec<Message> {
    system
        .map(Message::system)
        .into_iter()
        .chain(few_shot.iter().flat_map(FewShotExample::to_messages))
        .collect()
}

/// The conversation asking for the initial response.
pub fn initial(prefix: &[Message], prompt: &str) -> Vec<Message> {
    let mut out = prefix.to_vec();
    out.push(Message::user(prompt));
    out
}

/// The conversation asking to critique `answer`.
pub fn critique(prefix: &[Message], prompt: &str, answer: &str, request: &str) -> Vec<Message> {
    let mut out = initial(prefix, prompt);
    out.extend([Message::assistant(answer), Message::user(request)]);
    out
}

/// The conversation asking to revise `answer` after `critique_text`.
pub fn revision(
    prefix: &[Message],
    prompt: &str,
    answer: &str,
    critique_request: &str,
    critique_text: &str,
    revision_request: &str,
) -> Vec<Message> {
    let mut out = critique(prefix, prompt, answer, critique_request);
    out.extend([
        Message::assistant(critique_text),
        Message::user(revision_request),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_comes_first_then_demonstrations_then_the_prompt() {
        let demo = FewShotExample {
            principle_id: None,
            conversation: vec![
                cai_data::Message::user("p"),
                cai_data::Message::assistant("a"),
            ],
            critique_request: "cr".into(),
            critique: "c".into(),
            revision_request: "rr".into(),
            revision: "r".into(),
        };
        let pre = prefix(Some("sys"), &[demo]);
        let conv = revision(&pre, "P", "A", "CR", "C", "RR");
        let flat: Vec<(&str, &str)> = conv
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str()))
            .collect();
        assert_eq!(
            flat,
            [
                ("system", "sys"),
                ("user", "p"),
                ("assistant", "a"),
                ("user", "cr"),
                ("assistant", "c"),
                ("user", "rr"),
                ("assistant", "r"),
                ("user", "P"),
                ("assistant", "A"),
                ("user", "CR"),
                ("assistant", "C"),
                ("user", "RR"),
            ]
        );
        assert_eq!(initial(&[], "P"), [Message::user("P")]);
    }
}
