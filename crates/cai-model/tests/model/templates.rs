//! Chat templates that loop or write without end (issue 19, point 4) fail fast with an error
//! naming the limit: minijinja's fuel and the output limit of `cai_model::chat::limits`.

use std::time::{Duration, Instant};

use cai_model::{ChatTemplate, Message};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::crafted::RUNAWAY_TEMPLATES;
use super::mutate::no_panic;

#[test]
fn runaway_chat_templates_fail_fast() {
    let messages = [Message::user("hi")];
    for (name, source) in RUNAWAY_TEMPLATES {
        let template = ChatTemplate::new(source, name, "", "").unwrap();
        let started = Instant::now();
        let err = template.render(&messages, true).unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: {:?}",
            started.elapsed()
        );
        assert!(err.contains(name), "{err}");
        assert!(
            err.contains("fuel") || err.contains("output limit"),
            "{name}: {err}"
        );
    }
    // An ordinary template over a long conversation stays well within both limits.
    let long: Vec<Message> = (0..2000)
        .map(|i| Message::user(format!("turn {i}")))
        .collect();
    let chatml = ChatTemplate::builtin("chatml", "", "").unwrap();
    assert!(chatml.render(&long, true).unwrap().contains("turn 1999"));
}

/// The stand-in for the `chat_template` fuzz target: random compositions of looping, writing
/// and failing pieces.
#[test]
fn random_chat_templates_finish_quickly() {
    const PIECES: &[&str] = &[
        "{% for i in range(100000) %}",
        "{% endfor %}",
        "{{ 'x' * 1000000 }}",
        "{{ messages[0]['content'] }}",
        "x",
        "{% if add_generation_prompt %}",
        "{% endif %}",
        "{% set a = [1, 2, 3] %}",
        "{{ a * 1000 }}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ raise_exception('no') }}",
        "{{ range(100000) | list }}",
    ];
    let mut rng = StdRng::seed_from_u64(19);
    let messages = [Message::system("s"), Message::user("hi")];
    let mut sources: Vec<String> = RUNAWAY_TEMPLATES
        .iter()
        .map(|(_, s)| s.to_string())
        .collect();
    sources.extend((0..40).map(|_| {
        (0..rng.random_range(1..8))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect()
    }));
    for (case, source) in sources.iter().enumerate() {
        no_panic("template", case, source.as_bytes(), |_| {
            let Ok(template) = ChatTemplate::new(source, "random", "<s>", "</s>") else {
                return;
            };
            let started = Instant::now();
            let _ = template.render(&messages, true);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "`{source}` took {:?}",
                started.elapsed()
            );
        });
    }
}
