//! The embedded sample corpus: sizes, uniqueness, coverage and the train/eval split.

use std::collections::{BTreeSet, HashSet};

use cai_data::{Role, corpus};

fn assert_unique<'a>(what: &str, items: impl IntoIterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for item in items {
        assert!(
            seen.insert(item.to_lowercase()),
            "{what}: duplicate {item:?}"
        );
    }
}

#[test]
fn sizes_match_the_issue() {
    assert!((190..=230).contains(&corpus::red_team_prompts().len()));
    assert!((190..=230).contains(&corpus::helpful_chats().len()));
    assert!((190..=230).contains(&corpus::helpful_pairs().len()));
    assert_eq!(corpus::eval_red_team().len(), 50);
    assert_eq!(corpus::eval_benign().len(), 50);
}

#[test]
fn ids_and_prompts_are_unique_and_eval_is_held_out() {
    let train = corpus::red_team_prompts();
    let eval = corpus::eval_red_team();
    let benign = corpus::eval_benign();
    let all: Vec<_> = train.iter().chain(&eval).chain(&benign).collect();
    assert_unique("ids", all.iter().map(|p| p.id.as_str()));
    assert_unique("prompts", all.iter().map(|p| p.prompt.as_str()));
    assert_unique(
        "pair ids",
        corpus::helpful_pairs().iter().map(|p| p.id.as_str()),
    );
    let chats = corpus::helpful_chats();
    let pairs = corpus::helpful_pairs();
    assert_unique(
        "helpful prompts",
        chats
            .iter()
            .map(|c| c.conversations[0].value.as_str())
            .chain(pairs.iter().map(|p| p.prompt.as_str())),
    );
}

#[test]
fn red_team_covers_many_categories_and_benign_prompts_are_marked() {
    let categories: BTreeSet<_> = corpus::red_team_prompts()
        .into_iter()
        .filter_map(|p| p.category)
        .collect();
    assert!(categories.len() >= 12, "{categories:?}");
    // Categories come in turn, so a stage's `--limit 16` sees all of them.
    let first: BTreeSet<_> = corpus::red_team_prompts()
        .into_iter()
        .take(categories.len())
        .filter_map(|p| p.category)
        .collect();
    assert_eq!(first, categories);
    let eval_categories: BTreeSet<_> = corpus::eval_red_team()
        .into_iter()
        .filter_map(|p| p.category)
        .collect();
    assert!(
        eval_categories.is_subset(&categories),
        "eval uses the training categories"
    );
    assert!(corpus::eval_benign().iter().all(|p| {
        p.category
            .as_deref()
            .is_some_and(|c| c.starts_with("benign-"))
    }));
}

#[test]
fn chats_and_pairs_are_well_formed() {
    for chat in corpus::helpful_chats() {
        let messages = chat.to_messages().unwrap();
        assert!(messages.len() >= 2 && messages.len() % 2 == 0);
        assert!(messages.iter().enumerate().all(|(i, m)| m.role
            == if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            }));
        assert!(messages.iter().all(|m| !m.content.trim().is_empty()));
    }
    let pairs = corpus::helpful_pairs();
    assert!(pairs.iter().any(|p| !p.history.is_empty()));
    for p in pairs {
        assert!(
            !p.prompt.trim().is_empty()
                && !p.chosen.trim().is_empty()
                && !p.rejected.trim().is_empty()
        );
        assert_ne!(p.chosen, p.rejected, "{}", p.id);
    }
    let chats = corpus::helpful_chats();
    assert!(
        chats.iter().filter(|c| c.conversations.len() > 2).count() >= 10,
        "some chats are multi-turn"
    );
}
