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
    /// Every literal a match of some pattern must begin with, when all patterns have a finite
    /// set: one pass over the text rules most texts out before forty pattern scans.
    prefixes: Option<aho_corasick::AhoCorasick>,
}

/// The literals any match of `pattern` starts with, or None when they cannot be listed.
fn prefix_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
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
        let prefixes = [
            &file.imminent,
            &file.self_harm,
            &file.harm_others,
            &file.ideation,
        ]
        .iter()
        .flat_map(|l| l.patterns.iter())
        .map(|p| prefix_literals(p))
        .collect::<Option<Vec<_>>>()
        .and_then(|sets| aho_corasick::AhoCorasick::new(sets.concat()).ok());
        Ok(CrisisMatcher {
            tiers,
            negatives,
            prefixes,
        })
    }

    /// Whether the literal prefilter is in use (every pattern has a finite set of prefixes).
    pub fn prefiltered(&self) -> bool {
        self.prefixes.is_some()
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
        if let Some(prefixes) = &self.prefixes {
            if !prefixes.is_match(compact.as_ref()) {
                return none;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_pattern_has_listable_prefixes() {
        let m = CrisisMatcher::new(include_str!("../../dictionaries/crisis.toml")).unwrap();
        assert!(
            m.prefiltered(),
            "a pattern without a finite prefix set turns the prefilter off"
        );
        assert_eq!(m.assess("药已经攒够了").risk, Risk::Imminent);
        assert_eq!(m.assess("今天天气很好").risk, Risk::None);
    }
}
