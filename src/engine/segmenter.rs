//! The segmenter's dictionary (`segmenter.txt`): jieba's own dictionary less its rare words.
//!
//! jieba's dictionary holds 349,045 words, most of them names and terms seen a handful of times
//! in its corpus. Its prefix trie is the bulk of a cut's time (one walk per character) and of
//! the engine's start-up (building it took 0.11 s and 40 MB). Kept: every word of frequency
//! `min_freq` or more, every single character, and every word the curated dictionaries name,
//! so no lexicon, rule or topic word is cut apart. A rare word left out is read by its
//! characters (the engine cuts without the HMM): with the rare words kept (frequency 3 or more),
//! 5-fold macro-F1 fell half a point on both shared files and the cut took a fifth longer.

use anyhow::{Context, Result};
use jieba_rs::Jieba;
use rustc_hash::FxHashSet;

/// What `prune` kept of jieba's dictionary.
pub struct Pruned {
    /// `word freq` lines, in the dictionary's order.
    pub body: String,
    pub kept: usize,
    pub total: usize,
}

/// jieba on the words of `segmenter.txt` (`word freq` lines after a `#` header), or on
/// jieba's full dictionary when the file holds no words.
pub(crate) fn segmenter(text: &str) -> Result<Jieba> {
    let body = after_header(text);
    if body.trim().is_empty() {
        return Ok(Jieba::new());
    }
    Jieba::with_dict(&mut body.as_bytes()).context("segmenter.txt")
}

/// The text after its leading `#` lines.
fn after_header(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with('#') {
        rest = rest.split_once('\n').map_or("", |(_, after)| after);
    }
    rest
}

/// jieba's dictionary (`word freq [tag]` lines) less the words under `min_freq`, but for single
/// characters and the words of `keep`. Tags are dropped: a cut does not read them.
pub fn prune(jieba_dict: &str, min_freq: u64, keep: &FxHashSet<&str>) -> Result<Pruned> {
    let mut body = String::new();
    let (mut kept, mut total) = (0, 0);
    for (i, line) in jieba_dict.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(word) = fields.next() else { continue };
        let freq: u64 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("line {}: expected `word freq [tag]`: {line}", i + 1))?;
        total += 1;
        if freq >= min_freq || word.chars().nth(1).is_none() || keep.contains(word) {
            body.push_str(word);
            body.push(' ');
            body.push_str(&freq.to_string());
            body.push('\n');
            kept += 1;
        }
    }
    Ok(Pruned { body, kept, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_words_go_unless_single_or_kept() {
        let dict = "心理 5000 n\n心理援助 3 n\n援 2 v\n方舱 4 n\n垂头丧气 7 i\n";
        let keep: FxHashSet<&str> = ["垂头丧气"].into_iter().collect();
        let p = prune(dict, 20, &keep).unwrap();
        assert_eq!(p.body, "心理 5000\n援 2\n垂头丧气 7\n");
        assert_eq!((p.kept, p.total), (3, 5));
        let err = prune("心理 many\n", 20, &keep).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn the_header_is_skipped_and_an_empty_file_means_the_full_dictionary() {
        assert_eq!(after_header("# a\n# b\n心理 5000\n"), "心理 5000\n");
        assert_eq!(after_header("# only\n"), "");
        let small = segmenter("# a header\n心理 5000\n援助 3000\n").unwrap();
        assert!(small.has_word("援助") && !small.has_word("中国"));
        assert!(segmenter("# no words\n").unwrap().has_word("中国"));
    }
}
