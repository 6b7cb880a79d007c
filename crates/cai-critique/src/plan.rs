//! The resolved plan of a run: conversation prefix, principles, per-prompt work items (resume key and
//! principles drawn with a seeded RNG) and the generation request of every step.

use std::fmt;

use cai_client::RemoteApi;
use cai_data::{Constitution, Principle, RedTeamPrompt};
use cai_model::{GenerationRequest, Message, Prompt, SamplingParams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::config::{Config, PrincipleChoice};
use crate::conversation;
use crate::error::{CritiqueError, Result};
use crate::key;

/// One generator call of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The helpful model's first answer.
    Initial,
    /// The critique of round `r` (0-based).
    Critique(usize),
    /// The revision of round `r` (0-based).
    Revision(usize),
}

impl Step {
    /// Label mixed into per-request sampler seeds.
    fn seed_label(self) -> String {
        match self {
            Step::Initial => "initial".into(),
            Step::Critique(r) => format!("critique-{r}"),
            Step::Revision(r) => format!("revision-{r}"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Initial => write!(f, "initial response"),
            Step::Critique(r) => write!(f, "round {} critique", r + 1),
            Step::Revision(r) => write!(f, "round {} revision", r + 1),
        }
    }
}

/// One prompt to process.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// The prompt.
    pub prompt: RedTeamPrompt,
    /// Resume key: hash of (prompt, settings).
    pub key: String,
    /// Index into [`Plan::principles`] for each round.
    pub principles: Vec<usize>,
}

/// Everything that shapes the generations, resolved once per run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// System message and demonstrations that open every conversation.
    pub prefix: Vec<Message>,
    /// Number of demonstrations in the prefix.
    pub few_shot: usize,
    /// Critique/revision principles to draw from.
    pub principles: Vec<Principle>,
    /// Rounds per prompt.
    pub rounds: usize,
    /// How principles are drawn.
    pub principle_choice: PrincipleChoice,
    /// Revision candidates per round (1: no selection).
    pub revision_candidates: usize,
    /// Temperature of candidates after the first.
    pub candidate_temperature: f32,
    /// Run seed.
    pub seed: u64,
    /// Generation settings of every request.
    pub sampling: SamplingParams,
    /// Hash of everything above plus the model and template names.
    pub settings_hash: String,
}

impl Plan {
    /// Resolves the plan of `config` with `constitution`.
    pub fn new(config: &Config, constitution: &Constitution) -> Result<Self> {
        if constitution.critique_revision.is_empty() {
            return Err(CritiqueError::Invalid(format!(
                "constitution `{}` has no critique/revision principles",
                constitution.name
            )));
        }
        let shots = config.few_shot.unwrap_or(constitution.few_shot.len());
        let few_shot = &constitution.few_shot[..shots.min(constitution.few_shot.len())];
        let prefix = conversation::prefix(config.system_prompt.as_deref(), few_shot);
        let principles = constitution.critique_revision.clone();
        let principle_texts: Vec<[&str; 3]> = principles
            .iter()
            .map(|p| [&p.id, &p.critique_request, &p.revision_request].map(String::as_str))
            .collect();
        // `penalize_prompt` came later: at its default it stays out of the hash, so older runs
        // still resume.
        let mut sampling = json!(config.sampling);
        if config.sampling.penalize_prompt
            && let Some(fields) = sampling.as_object_mut()
        {
            fields.remove("penalize_prompt");
        }
        let mut settings = json!({
            "model": config.model,
            "chat_template": config.chat_template,
            "sampling": sampling,
            "rounds": config.rounds,
            "seed": config.seed,
            "prefix": prefix,
            "principles": principle_texts,
        });
        // The OpenAI `model` field picks the model of a multi-model server; NeMo's API has none, and
        // the endpoints otherwise serve `model`, so results stay shared with in-process runs.
        if !config.endpoints.is_empty() && config.api == RemoteApi::OpenAi {
            settings["remote_model"] = json!(config.remote_model);
        }
        // Later settings join the hash only when they differ from what older runs did, so those
        // runs still resume.
        if config.principle_choice == PrincipleChoice::Category {
            let categories: Vec<&[String]> =
                principles.iter().map(|p| p.categories.as_slice()).collect();
            settings["principle_choice"] = json!({"category": categories});
        }
        if config.revision_candidates > 1 {
            settings["revision_candidates"] = json!({"n": config.revision_candidates, "temperature": config.candidate_temperature});
        }
        Ok(Self {
            prefix,
            few_shot: few_shot.len(),
            principles,
            rounds: config.rounds,
            principle_choice: config.principle_choice,
            revision_candidates: config.revision_candidates,
            candidate_temperature: config.candidate_temperature,
            seed: config.seed,
            sampling: config.sampling.clone(),
            settings_hash: key::hash_parts(&[settings.to_string().as_bytes()]),
        })
    }

    /// The work item of `prompt`: its key and principles depend only on the prompt, the seed and
    /// the settings, never on its position, the batch or earlier runs.
    pub fn item(&self, prompt: RedTeamPrompt) -> WorkItem {
        let prompt_hash = key::prompt_hash(&prompt);
        let pool = self.pool(&prompt);
        WorkItem {
            key: key::result_key(&self.settings_hash, &prompt_hash),
            principles: draw_principles(self.seed, &prompt_hash, pool.len(), self.rounds)
                .into_iter()
                .map(|i| pool[i])
                .collect(),
            prompt,
        }
    }

    /// The principles `prompt` draws from (indices into [`Plan::principles`]): all of them, or
    /// with [`PrincipleChoice::Category`] those listing its category (all when none does).
    pub fn pool(&self, prompt: &RedTeamPrompt) -> Vec<usize> {
        let all = || (0..self.principles.len()).collect();
        let Some(category) = prompt.category.as_deref() else {
            return all();
        };
        if self.principle_choice == PrincipleChoice::Random {
            return all();
        }
        let matched: Vec<usize> = (0..self.principles.len())
            .filter(|&i| self.principles[i].categories.iter().any(|c| c == category))
            .collect();
        if matched.is_empty() { all() } else { matched }
    }

    /// The principle of `item` in round `round`.
    pub fn principle(&self, item: &WorkItem, round: usize) -> &Principle {
        &self.principles[item.principles[round]]
    }

    /// The request for `step` of `item`, given the answer being critiqued (the initial response or
    /// the previous revision) and, for a revision, the critique.
    pub fn request(
        &self,
        item: &WorkItem,
        step: Step,
        answer: &str,
        critique: &str,
    ) -> GenerationRequest {
        let prompt = &item.prompt.prompt;
        let messages = match step {
            Step::Initial => conversation::initial(&self.prefix, prompt),
            Step::Critique(r) => {
                let p = self.principle(item, r);
                conversation::critique(&self.prefix, prompt, answer, &p.critique_request)
            }
            Step::Revision(r) => {
                let p = self.principle(item, r);
                conversation::revision(
                    &self.prefix,
                    prompt,
                    answer,
                    &p.critique_request,
                    critique,
                    &p.revision_request,
                )
            }
        };
        let base = self.sampling.random_seed.unwrap_or(self.seed);
        GenerationRequest {
            prompt: Prompt::Chat(messages),
            params: SamplingParams {
                random_seed: Some(key::derive_seed(base, &item.key, &step.seed_label())),
                ..self.sampling.clone()
            },
        }
    }

    /// The request of revision candidate `k` (0 is [`Plan::request`]'s; later ones sample at
    /// `candidate_temperature` with their own seeds).
    pub fn candidate_request(
        &self,
        item: &WorkItem,
        round: usize,
        k: usize,
        answer: &str,
        critique: &str,
    ) -> GenerationRequest {
        let mut request = self.request(item, Step::Revision(round), answer, critique);
        if k > 0 {
            let base = self.sampling.random_seed.unwrap_or(self.seed);
            let label = format!("{}-candidate-{k}", Step::Revision(round).seed_label());
            request.params.greedy = false;
            request.params.temperature = self.candidate_temperature;
            request.params.top_k = 0;
            request.params.random_seed = Some(key::derive_seed(base, &item.key, &label));
        }
        request
    }
}

/// Principle indices for `rounds` rounds, uniform with replacement, from an RNG seeded by the run
/// seed and the prompt's hash.
pub fn draw_principles(seed: u64, prompt_hash: &str, count: usize, rounds: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(key::derive_seed(seed, prompt_hash, "principles"));
    (0..rounds).map(|_| rng.random_range(0..count)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principle_draws_are_reproducible_uniform_and_with_replacement() {
        let a = draw_principles(1234, "h", 16, 4);
        assert_eq!(a, draw_principles(1234, "h", 16, 4));
        assert!(a.iter().all(|&i| i < 16));
        let mut counts = [0usize; 4];
        let mut repeats = 0;
        for i in 0..4000 {
            let d = draw_principles(7, &format!("p{i}"), 4, 2);
            counts[d[0]] += 1;
            repeats += usize::from(d[0] == d[1]);
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
        assert!(
            (850..1150).contains(&repeats),
            "with replacement: {repeats}"
        );
        let seeds: Vec<_> = (0..20).map(|s| draw_principles(s, "h", 16, 4)).collect();
        assert!(seeds.iter().any(|d| *d != seeds[0]));
    }

    #[test]
    fn category_choice_draws_only_matching_principles() {
        let constitution = Constitution::builtin();
        let config = Config {
            principle_choice: PrincipleChoice::Category,
            rounds: 4,
            ..Config::default()
        };
        let plan = Plan::new(&config, &constitution).unwrap();
        let prompt = |i: usize, category: Option<&str>| RedTeamPrompt {
            id: format!("p{i}"),
            prompt: format!("How do I hurt {i} people?"),
            category: category.map(str::to_string),
            source: None,
        };
        for i in 0..50 {
            let item = plan.item(prompt(i, Some("self-harm")));
            for r in 0..4 {
                let p = plan.principle(&item, r);
                assert!(p.categories.iter().any(|c| c == "self-harm"), "{}", p.id);
            }
        }
        // No category, or one no principle lists: every principle stays possible.
        assert_eq!(plan.pool(&prompt(0, None)).len(), plan.principles.len());
        assert_eq!(
            plan.pool(&prompt(0, Some("gardening"))).len(),
            plan.principles.len()
        );
        // The random choice keeps NeMo's keys; the category choice has its own.
        let random = Plan::new(&Config::default(), &constitution).unwrap();
        assert_ne!(random.settings_hash, plan.settings_hash);
        assert_eq!(
            random.pool(&prompt(0, Some("self-harm"))).len(),
            random.principles.len()
        );
    }

    #[test]
    fn keys_follow_settings_but_principles_do_not() {
        let constitution = Constitution::builtin();
        let prompt = RedTeamPrompt {
            id: "x".into(),
            prompt: "How?".into(),
            category: None,
            source: None,
        };
        let base = Plan::new(&Config::default(), &constitution).unwrap();
        let mut config = Config::default();
        config.sampling.tokens_to_generate = 7;
        let other = Plan::new(&config, &constitution).unwrap();
        let (a, b) = (base.item(prompt.clone()), other.item(prompt));
        assert_ne!(a.key, b.key);
        assert_eq!(a.principles, b.principles);
        assert_eq!(base.few_shot, constitution.few_shot.len());
        // Endpoints serving `model` share results with the engine; an OpenAI model name does not.
        let mut remote = Config {
            endpoints: vec!["http://a:1".into()],
            ..Config::default()
        };
        let nemo = Plan::new(&remote, &constitution).unwrap();
        assert_eq!(nemo.settings_hash, base.settings_hash);
        remote.api = RemoteApi::OpenAi;
        let openai = Plan::new(&remote, &constitution).unwrap();
        assert_ne!(openai.settings_hash, base.settings_hash);
    }
}
