//! Constitutions: the built-in one, our TOML layout, and the foreign layouts users may drop in.
//! The foreign-layout fixtures below are synthetic text in the original shapes, not the original files.

use cai_data::{Constitution, Message, Role};
use serde_json::json;

use crate::util::Dir;

#[test]
fn builtin_constitution_is_complete() {
    let c = Constitution::builtin();
    assert_eq!(c.critique_revision.len(), 16);
    assert_eq!(c.judge_principles.len(), 16);
    assert!((3..=5).contains(&c.few_shot.len()));
    for p in &c.judge_principles {
        assert!(
            p.text.starts_with("Which"),
            "{}: judging principles are questions",
            p.id
        );
        assert!(p.text.ends_with('?'), "{}", p.id);
    }
    for f in &c.few_shot {
        let id = f.principle_id.as_deref().unwrap();
        let p = c.principle(id).unwrap();
        assert_eq!(f.critique_request, p.critique_request);
        assert_eq!(f.revision_request, p.revision_request);
    }
    let fs = c.few_shot_messages();
    assert_eq!(
        fs.len(),
        c.few_shot
            .iter()
            .map(|f| f.conversation.len() + 4)
            .sum::<usize>()
    );
    assert!(
        fs.windows(2).all(|w| w[0].role != w[1].role),
        "few-shot prefix alternates roles"
    );
    let loaded = Constitution::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../constitutions/default.toml"
    ))
    .unwrap();
    assert_eq!(loaded, c);
}

#[test]
fn toml_layout_with_explicit_requests_and_errors() {
    let d = Dir::new();
    let ok = d.write(
        "c.toml",
        r#"
name = "tiny"
[[critique_revision]]
id = "a"
critique_request = "Critique A."
revision_request = "Revise A."
[[judge_principles]]
id = "j"
text = "Which is kinder?"
[[few_shot]]
conversation = [{ role = "user", content = "q" }, { role = "assistant", content = "r" }]
critique_request = "Own critique request."
critique = "c"
revision_request = "Own revision request."
revision = "v"
"#,
    );
    let c = Constitution::load(&ok).unwrap();
    assert_eq!(c.few_shot[0].critique_request, "Own critique request.");
    assert_eq!(c.few_shot[0].to_messages().len(), 6);

    for (name, text, needle) in [
        (
            "dup.toml",
            "name='x'\n[[critique_revision]]\nid='a'\ncritique_request='c'\nrevision_request='r'\n[[critique_revision]]\nid='a'\ncritique_request='c'\nrevision_request='r'\n",
            "duplicate",
        ),
        (
            "unknown.toml",
            "name='x'\n[[few_shot]]\nprinciple='nope'\nconversation=[]\ncritique='c'\nrevision='r'\n",
            "unknown principle",
        ),
        (
            "typo.toml",
            "name='x'\ncritique_revison=[]\n",
            "unknown field",
        ),
        (
            "shape.toml",
            "name='x'\n[[critique_revision]]\nid='a'\ncritique_request='c'\nrevision_request='r'\n[[few_shot]]\nprinciple='a'\nconversation=[{role='assistant',content='x'}]\ncritique='c'\nrevision='r'\n",
            "few_shot[0]",
        ),
    ] {
        let err = Constitution::load(d.write(name, text))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the error names the file: {err}"
        );
    }
}

fn instructions() -> serde_json::Value {
    let entry = |c: &str, r: &str| json!({"prompt": [format!("\n\nCritiqueRequest: {c}\n\nCritique:")], "edit_request": format!("\n\nRevisionRequest: {r}\n\nRevision:")});
    let mut map = serde_json::Map::new();
    for i in 0..12 {
        map.insert(
            format!("harmful{i}"),
            entry(&format!("Find problem {i}."), &format!("Fix problem {i}.")),
        );
    }
    serde_json::Value::Object(map)
}

#[test]
fn anthropic_instruction_layout_is_normalised_and_ordered_numerically() {
    let d = Dir::new();
    let c = Constitution::load(d.write(
        "CritiqueRevisionInstructions.json",
        instructions().to_string(),
    ))
    .unwrap();
    assert_eq!(c.critique_revision.len(), 12);
    // harmful10 comes after harmful9, not after harmful1.
    let ids: Vec<&str> = c.critique_revision.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(&ids[9..], ["harmful9", "harmful10", "harmful11"]);
    assert_eq!(c.critique_revision[3].critique_request, "Find problem 3.");
    assert_eq!(c.critique_revision[3].revision_request, "Fix problem 3.");
}

fn six(prefix: &str) -> serde_json::Value {
    let roles = [
        "User",
        "Assistant",
        "User",
        "Assistant",
        "User",
        "Assistant",
    ];
    json!(
        roles
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"role": r, "content": format!("{prefix}{i}")}))
            .collect::<Vec<_>>()
    )
}

#[test]
fn nemo_few_shot_and_merging() {
    let d = Dir::new();
    let inst = d.write("instructions.json", instructions().to_string());
    let fs = d.write(
        "few_shot.json",
        json!({"samples": [six("a"), six("b")]}).to_string(),
    );
    let c = Constitution::load_all(&[inst, fs]).unwrap();
    assert_eq!((c.critique_revision.len(), c.few_shot.len()), (12, 2));
    let ex = &c.few_shot[1];
    assert_eq!(
        ex.conversation,
        vec![Message::user("b0"), Message::assistant("b1")]
    );
    assert_eq!(
        (ex.critique_request.as_str(), ex.critique.as_str()),
        ("b2", "b3")
    );
    assert_eq!(
        (ex.revision_request.as_str(), ex.revision.as_str()),
        ("b4", "b5")
    );
    let flat = c.few_shot_messages();
    assert_eq!(flat.len(), 12);
    assert_eq!(flat[6], Message::user("b0"));

    let bad = d.write(
        "bad.json",
        json!({"samples": [[{"role": "User", "content": "only one"}]]}).to_string(),
    );
    assert!(
        Constitution::load(&bad)
            .unwrap_err()
            .to_string()
            .contains("samples[0]")
    );
}

#[test]
fn hugging_face_layout() {
    let d = Dir::new();
    let lower = six("h").as_array().unwrap().iter().map(|m| {
        json!({"role": m["role"].as_str().unwrap().to_lowercase(), "content": m["content"]})
    }).collect::<Vec<_>>();
    let file = d.write(
        "constitution.json",
        json!({"constitutions": [{"critic": "Is it rude?", "revision": "Make it polite."}], "system_chat": [lower]}).to_string(),
    );
    let c = Constitution::load(&file).unwrap();
    assert_eq!(c.critique_revision[0].id, "hf0");
    assert_eq!(c.critique_revision[0].revision_request, "Make it polite.");
    assert_eq!(c.few_shot[0].conversation[0].role, Role::User);
}

#[test]
fn anthropic_few_shot_and_judge_lists() {
    let d = Dir::new();
    let shots = json!([
        "\n\nHuman: q1\n\nAssistant: a1\n\nCritiqueRequest: cr1\n\nCritique: c1\n\nRevisionRequest: rr1\n\nRevision: r1\n\nHuman:",
        "\n\nHuman: q2\n\nAssistant: a2\n\nHuman: q3\n\nAssistant: a3\n\nCritiqueRequest: cr2\n\nCritique: c2\n\nRevisionRequest: rr2\n\nRevision: r2",
    ]);
    let c = Constitution::load(d.write("fs.json", shots.to_string())).unwrap();
    assert_eq!(c.few_shot.len(), 2);
    assert_eq!(c.few_shot[0].revision, "r1");
    assert_eq!(c.few_shot[1].conversation.len(), 4);
    let judges = json!([
        "\nPlease choose the calmer response. Options:",
        "\nWhich response is kinder? Options:"
    ]);
    let c = Constitution::load(d.write("judge.json", judges.to_string())).unwrap();
    assert_eq!(c.judge_principles[1].text, "Which response is kinder?");
    assert!(Constitution::load(d.write("odd.json", json!({"foo": 1}).to_string())).is_err());
}
