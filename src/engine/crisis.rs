//! Crisis risk from phrase patterns (dictionaries/crisis.toml), matched on normalised text
//! without spaces so that segmentation cannot split a phrase. Hard negatives are masked first.

use anyhow::{Context, Result};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    None,
    Ideation,
    HarmOthers,
    SelfHarm,
    Imminent,
}

impl Risk {
    pub fn name(self) -> &'static str {
        match self {
            Risk::None => "none",
            Risk::Ideation => "ideation",
            Risk::HarmOthers => "harm_others",
            Risk::SelfHarm => "self_harm",
            Risk::Imminent => "imminent",
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        [
            Risk::None,
            Risk::Ideation,
            Risk::HarmOthers,
            Risk::SelfHarm,
            Risk::Imminent,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternList {
    patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrisisFile {
    imminent: PatternList,
    self_harm: PatternList,
    harm_others: PatternList,
    ideation: PatternList,
    negatives: PatternList,
}

pub struct CrisisMatcher {
    /// Tiers from highest to lowest, each with its patterns.
    tiers: Vec<(Risk, Vec<Regex>)>,
    negatives: Regex,
}

/// The tier and the phrases that matched.
pub struct CrisisResult {
    pub risk: Risk,
    pub terms: Vec<String>,
}

impl CrisisMatcher {
    pub fn new(toml_text: &str) -> Result<CrisisMatcher> {
        let file: CrisisFile = toml::from_str(toml_text).context("crisis.toml")?;
        // One Regex per pattern, not a RegexSet: a single regex searches for its literals
        // first (memchr, Aho-Corasick) and runs its automaton only where they occur, while a set
        // of forty gappy patterns kept rebuilding its lazy DFA and cost more than segmentation.
        let compile = |risk: Risk, list: &PatternList| -> Result<(Risk, Vec<Regex>)> {
            let each = list
                .patterns
                .iter()
                .map(|p| Regex::new(p))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("crisis.toml [{}]", risk.name()))?;
            Ok((risk, each))
        };
        let tiers = vec![
            compile(Risk::Imminent, &file.imminent)?,
            compile(Risk::SelfHarm, &file.self_harm)?,
            compile(Risk::HarmOthers, &file.harm_others)?,
            compile(Risk::Ideation, &file.ideation)?,
        ];
        let negatives =
            Regex::new(&file.negatives.patterns.join("|")).context("crisis.toml [negatives]")?;
        Ok(CrisisMatcher { tiers, negatives })
    }

    pub fn assess(&self, normalised: &str) -> CrisisResult {
        let none = CrisisResult {
            risk: Risk::None,
            terms: Vec::new(),
        };
        let compact: std::borrow::Cow<str> = if normalised.contains(char::is_whitespace) {
            normalised
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .into()
        } else {
            normalised.into()
        };
        // Masking only removes matches, so a text no pattern matches now never will.
        if !self
            .tiers
            .iter()
            .any(|(_, each)| each.iter().any(|r| r.is_match(&compact)))
        {
            return none;
        }
        let masked = self.negatives.replace_all(&compact, "〇");
        for (risk, each) in &self.tiers {
            let terms: Vec<String> = each
                .iter()
                .filter_map(|r| r.find(&masked).map(|m| m.as_str().to_string()))
                .collect();
            if !terms.is_empty() {
                return CrisisResult { risk: *risk, terms };
            }
        }
        none
    }
}
