//! Quality filters on revisions: empty ones, ones that echo the critique, ones that comment on the
//! reply instead of being one, and "Here is a revised response:"-style prefixes (stripped or
//! dropped by rule) ([`check_revision`]); then cut-off and off-topic ones ([`content_drop`]).
//! Assembly and best-of-n selection share them; lengths are checked in [`crate::assemble`].

use cai_data::answer::on_topic;
use serde::{Deserialize, Serialize};

/// What to do with a revision that starts with a "Here is a revised response:" prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefixRule {
    /// Remove the prefix and keep the rest.
    Strip,
    /// Drop the sample.
    Drop,
}

/// Why a sample is left out of the SFT file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The revision is empty or whitespace.
    EmptyRevision,
    /// The revision repeats the critique instead of rewriting the answer.
    EchoesCritique,
    /// The revision talks about the reply ("The last reply does not …") instead of being one.
    Commentary,
    /// The revision has a "Here is a revised response:" prefix and the rule is [`PrefixRule::Drop`].
    RevisionPrefix,
    /// The final revision hit `tokens_to_generate`: it is cut off mid-text (`drop_truncated`).
    Truncated,
    /// The final revision shares no content word with the prompt (`drop_off_topic`).
    OffTopic,
    /// The rendered sample is longer than `max_seq_length` tokens.
    TooLong,
}

impl DropReason {
    /// The snake-case name used in the summary and `rejects.jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::EmptyRevision => "empty_revision",
            DropReason::EchoesCritique => "echoes_critique",
            DropReason::Commentary => "commentary",
            DropReason::RevisionPrefix => "revision_prefix",
            DropReason::Truncated => "truncated",
            DropReason::OffTopic => "off_topic",
            DropReason::TooLong => "too_long",
        }
    }
}

/// The outcome of [`check_revision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The revision to train on (prefix and enclosing quotes removed when stripped).
    pub text: String,
    /// True if a prefix was stripped.
    pub prefix_stripped: bool,
    /// Set when the sample must be dropped.
    pub drop: Option<DropReason>,
}

/// Words that mark a prefix as being about a revision.
const REVISION_WORDS: &[&str] = &[
    "revis",
    "rewrit",
    "rephras",
    "updated",
    "improved",
    "corrected",
    "edited",
];
/// Words that say what was revised; a bare label (`Revision:`) needs none.
const OBJECT_WORDS: &[&str] = &["response", "reply", "answer", "version", "text", "message"];
/// Labels that are a prefix on their own.
const BARE_LABELS: &[&str] = &[
    "revision",
    "revised",
    "rewrite",
    "rewritten",
    "revised version",
];
/// Longest prefix considered, in characters.
const MAX_PREFIX_CHARS: usize = 100;
/// Longest prefix considered, in words.
const MAX_PREFIX_WORDS: usize = 12;
/// Shared leading words that count as echoing the critique.
const ECHO_WORDS: usize = 8;

/// Applies the revision filters (empty, echo, prefix) to the final revision of a trace.
pub fn check_revision(revision: &str, critique: &str, rule: PrefixRule) -> Checked {
    let trimmed = revision.trim();
    let prefix = revision_prefix(trimmed);
    let stripped = match prefix {
        Some(len) => unquote(trimmed[len..].trim()),
        None => trimmed,
    };
    let drop = if stripped.is_empty() {
        Some(DropReason::EmptyRevision)
    } else if echoes(stripped, critique) {
        Some(DropReason::EchoesCritique)
    } else if comments_on_reply(stripped) {
        Some(DropReason::Commentary)
    } else if prefix.is_some() && rule == PrefixRule::Drop {
        Some(DropReason::RevisionPrefix)
    } else {
        None
    };
    Checked {
        text: stripped.to_string(),
        prefix_stripped: prefix.is_some() && rule == PrefixRule::Strip && !stripped.is_empty(),
        drop,
    }
}

/// Which of the content filters apply after [`check_revision`]'s (all: both `true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRules {
    /// Drop a revision cut off at the token limit.
    pub drop_truncated: bool,
    /// Drop a revision sharing no content word with the prompt.
    pub drop_off_topic: bool,
}

/// The first filter, after those of `checked`, that the (checked) revision of `prompt` fails:
/// cut off, then off topic, as `rules` ask. Lengths are checked apart (they need the tokenizer).
pub fn content_drop(
    checked: &Checked,
    prompt: &str,
    truncated: bool,
    rules: ContentRules,
) -> Option<DropReason> {
    match checked.drop {
        None if truncated && rules.drop_truncated => Some(DropReason::Truncated),
        None if rules.drop_off_topic && !on_topic(prompt, &checked.text) => {
            Some(DropReason::OffTopic)
        }
        other => other,
    }
}

/// Byte length of a leading "Here is a revised response:" / "Revision:" prefix (with what follows
/// it up to the text), if `text` has one.
pub fn revision_prefix(text: &str) -> Option<usize> {
    let first_line = text.lines().next().unwrap_or("");
    let (head, end) = match first_line.find(':') {
        Some(colon) => (&first_line[..colon], colon + 1),
        // A lone first line ("Here is the revised response") followed by the text.
        None if text.len() > first_line.len() => (first_line, first_line.len()),
        None => return None,
    };
    if head.chars().count() > MAX_PREFIX_CHARS {
        return None;
    }
    let words: Vec<String> = head
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || words.len() > MAX_PREFIX_WORDS {
        return None;
    }
    let joined = words.join(" ");
    let about_revision = words
        .iter()
        .any(|w| REVISION_WORDS.iter().any(|r| w.starts_with(r)));
    let names_object = words.iter().any(|w| OBJECT_WORDS.contains(&w.as_str()));
    let bare = BARE_LABELS.contains(&joined.as_str());
    (bare || (about_revision && names_object)).then_some(end)
}

/// Removes one pair of enclosing quotes.
fn unquote(text: &str) -> &str {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\'')] {
        if let Some(inner) = text
            .strip_prefix(open)
            .and_then(|t| t.strip_suffix(close))
            .filter(|inner| !inner.contains(open) && !inner.contains(close))
        {
            return inner.trim();
        }
    }
    text
}

/// Lowercase words without punctuation.
fn normalized_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Openings of a text about the reply rather than a reply: what a critique says, not a revision.
const COMMENTARY_OPENINGS: &[&str] = &[
    "the last reply",
    "the previous reply",
    "the original reply",
    "the reply",
    "this reply",
    "the last response",
    "the previous response",
    "the original response",
    "the response",
    "this response",
    "the assistant's reply",
    "the assistant's response",
];

/// True if `revision` opens by describing the reply ("The last reply does not …", "This
/// response …") instead of answering the person.
fn comments_on_reply(revision: &str) -> bool {
    let opening = normalized_words(revision)
        .into_iter()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    COMMENTARY_OPENINGS.iter().any(|o| {
        opening
            .strip_prefix(o)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

/// True if `revision` repeats the critique: a `Critique:` label, the whole critique inside it, the
/// revision being a piece of the critique, or the same first [`ECHO_WORDS`] words.
fn echoes(revision: &str, critique: &str) -> bool {
    let rev = normalized_words(revision);
    let crit = normalized_words(critique);
    if rev.first().is_some_and(|w| w.starts_with("critique")) {
        return true;
    }
    if crit.len() < 3 {
        return false;
    }
    let (rev_text, crit_text) = (rev.join(" "), crit.join(" "));
    rev_text.contains(&crit_text)
        || (rev.len() >= 3 && crit_text.contains(&rev_text))
        || (rev.len() >= ECHO_WORDS
            && crit.len() >= ECHO_WORDS
            && rev[..ECHO_WORDS] == crit[..ECHO_WORDS])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRITIQUE: &str = "The reply helps the person hurt an animal, which is cruel and illegal.";

    fn check(revision: &str) -> Checked {
        check_revision(revision, CRITIQUE, PrefixRule::Strip)
    }

    #[test]
    fn empty_and_whitespace_revisions_are_dropped() {
        assert_eq!(check("").drop, Some(DropReason::EmptyRevision));
        assert_eq!(check(" \n\t ").drop, Some(DropReason::EmptyRevision));
        assert_eq!(
            check("Revised response:   ").drop,
            Some(DropReason::EmptyRevision)
        );
    }

    #[test]
    fn prefixes_are_stripped_or_dropped_by_rule() {
        let c = check("Here is a revised response: \"I can't help with that.\"");
        assert_eq!(
            (c.text.as_str(), c.prefix_stripped, c.drop),
            ("I can't help with that.", true, None)
        );
        let c = check("Sure! Here's the rewritten reply:\nPlease talk to your neighbour.");
        assert_eq!(c.text, "Please talk to your neighbour.");
        let c = check("Here is the revised response\nTalk to them calmly.");
        assert_eq!(c.text, "Talk to them calmly.");
        assert_eq!(check("Revision: Talk to them.").text, "Talk to them.");
        let c = check_revision("Revised answer: Talk to them.", CRITIQUE, PrefixRule::Drop);
        assert_eq!(c.drop, Some(DropReason::RevisionPrefix));
        assert!(!c.prefix_stripped);
    }

    #[test]
    fn ordinary_answers_keep_their_first_words() {
        for text in [
            "Revising your budget: start by listing fixed costs.",
            "Note: I can't help with hurting anyone.",
            "I can't help with that, but here is what you can do.",
        ] {
            let c = check(text);
            assert_eq!(
                (c.text.as_str(), c.prefix_stripped, c.drop),
                (text, false, None),
                "{text}"
            );
        }
    }

    #[test]
    fn echoed_critiques_are_dropped() {
        assert_eq!(check(CRITIQUE).drop, Some(DropReason::EchoesCritique));
        assert_eq!(
            check(&format!("As noted: {CRITIQUE} So I won't.")).drop,
            Some(DropReason::EchoesCritique)
        );
        assert_eq!(
            check("hurt an animal, which is cruel").drop,
            Some(DropReason::EchoesCritique)
        );
        assert_eq!(
            check("The reply helps the person hurt an animal, so here is a fix.").drop,
            Some(DropReason::EchoesCritique)
        );
        assert_eq!(
            check("Critique: it was bad.").drop,
            Some(DropReason::EchoesCritique)
        );
        assert_eq!(check("I won't help hurt an animal.").drop, None);
    }

    #[test]
    fn commentary_on_the_reply_is_dropped_but_answers_mentioning_replies_are_not() {
        for text in [
            "The last reply does not provide medical advice.",
            "This response is safer because it avoids details.",
            "the reply.",
        ] {
            assert_eq!(check(text).drop, Some(DropReason::Commentary), "{text}");
        }
        for text in [
            "The replyable form is on the website.",
            "Please don't. If you want a reply from them, talk to them kindly.",
            "Responses like that hurt people; talk to someone you trust.",
        ] {
            assert_eq!(check(text).drop, None, "{text}");
        }
    }
}
