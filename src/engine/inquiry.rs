//! Inquiries (`inquiries.txt`): the sentences of a text that ask for information and judge
//! nothing, whose words then carry no learned polarity.

use anyhow::{bail, Result};
use std::ops::Range;

pub(crate) struct Inquiries {
    /// The key characters (`[keys]`), one of which every opener holds. Every text is searched
    /// for them, a few rare characters, which is a fraction of searching it for the openers
    /// (4.6% of the engine's instructions), whose first characters (想, 请, 了) are common.
    keys: KeySearch,
    /// For each key, the openers that hold it and where: (byte offset of the key, opener).
    openers_of_key: Vec<Vec<(usize, usize)>>,
    openers: Vec<String>,
    asks: aho_corasick::AhoCorasick,
    complaints: aho_corasick::AhoCorasick,
}

/// The search for the key characters: SIMD (Teddy) where the processor has it, as most texts
/// hold no key and the search is all they cost; an automaton elsewhere.
enum KeySearch {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

/// Where a sentence asks by a word said both ways, yes and no (开不开, 去没去, 好不好), if it
/// does.
fn asked_both_ways(sentence: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = sentence.char_indices().collect();
    chars
        .windows(3)
        .find(|w| w[0].1 == w[2].1 && matches!(w[1].1, '不' | '没') && !w[0].1.is_ascii())
        .map(|w| w[0].0)
}

/// Where the clause of `text` that holds byte `at` ends: after its mark, or with the text.
fn clause_end(text: &str, at: usize) -> usize {
    text[at..]
        .char_indices()
        .find(|(_, c)| ends_clause(*c))
        .map_or(text.len(), |(i, c)| at + i + c.len_utf8())
}

/// What ends a clause of a sentence.
fn ends_clause(c: char) -> bool {
    matches!(c, '，' | ',' | '、' | '：' | ':') || ends_sentence(c)
}

/// What ends a sentence: a complaint anywhere in the sentence of an opener keeps it from being
/// an inquiry.
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | ';' | '\n')
}

impl Inquiries {
    /// The sections of `inquiries.txt`: `[keys]`, `[openers]`, `[asks]` and `[complaints]`.
    pub(crate) fn parse(text: &str) -> Result<Inquiries> {
        let mut sections: [Vec<&str>; 4] = Default::default();
        let mut section = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            section = match line {
                "[openers]" => Some(0),
                "[asks]" => Some(1),
                "[complaints]" => Some(2),
                "[keys]" => Some(3),
                _ if line.starts_with('[') => {
                    bail!("inquiries.txt line {}: unknown section {line}", i + 1)
                }
                _ => {
                    let Some(s) = section else {
                        bail!(
                            "inquiries.txt line {}: '{line}' is before any section",
                            i + 1
                        )
                    };
                    sections[s].push(line);
                    continue;
                }
            };
        }
        let [openers, asks, complaints, keys] = sections;
        let mut openers_of_key = vec![Vec::new(); keys.len()];
        for (o, opener) in openers.iter().enumerate() {
            let mut held = false;
            for (k, key) in keys.iter().enumerate() {
                for (at, _) in opener.match_indices(key) {
                    openers_of_key[k].push((at, o));
                    held = true;
                }
            }
            if !held {
                bail!("inquiries.txt: the opener '{opener}' holds none of the [keys]");
            }
        }
        let search =
            |words: &[&str]| aho_corasick::AhoCorasick::new(words).expect("a few short literals");
        Ok(Inquiries {
            keys: match aho_corasick::packed::Searcher::new(keys.iter()) {
                Some(teddy) => KeySearch::Packed(teddy),
                None => KeySearch::Automaton(search(&keys)),
            },
            openers_of_key,
            openers: openers.iter().map(|o| o.to_string()).collect(),
            asks: search(&asks),
            complaints: search(&complaints),
        })
    }

    /// The byte ranges of `text` that are inquiries. A sentence with an opener, a sign that it
    /// asks (a question mark, a particle, a question word) and no complaint is one from its
    /// start to the end of the clause that asks, and on over the clauses after that ask too.
    pub(crate) fn spans(&self, text: &str) -> Vec<Range<usize>> {
        let mut spans: Vec<Range<usize>> = Vec::new();
        let mut on_key = |key: aho_corasick::Match| {
            let Some(opener) = self.opener_at(text, key) else {
                return;
            };
            if spans.last().is_some_and(|s| opener < s.end) {
                return;
            }
            let start = text[..opener]
                .char_indices()
                .rev()
                .find(|(_, c)| ends_sentence(*c))
                .map_or(0, |(at, c)| at + c.len_utf8());
            let end = text[opener..]
                .char_indices()
                .find(|(_, c)| ends_sentence(*c))
                .map_or(text.len(), |(at, c)| opener + at + c.len_utf8());
            let sentence = &text[start..end];
            let ask = self.asks.find(sentence).map(|m| m.start());
            let Some(ask) = ask.or_else(|| asked_both_ways(sentence)) else {
                return;
            };
            if self.complaints.is_match(sentence) {
                return;
            }
            // The inquiry ends with the clause that asks (or that holds the opener, if later):
            // what the sentence goes on to say is said ("…问怎么办理，接线员直接挂了我的电话").
            let from = (opener - start).max(ask);
            let mut until = clause_end(text, start + from);
            // Clauses that ask on after it, in its sentence or the next ones, ask too
            // ("…号码是多少，晚上也能打吗", "复工证明怎么办理？需要单位盖章吗").
            while until < text.len() {
                let next = clause_end(text, until);
                let clause = &text[until..next];
                let asks = self.asks.is_match(clause) || asked_both_ways(clause).is_some();
                if !asks || self.complaints.is_match(clause) {
                    break;
                }
                until = next;
            }
            let begin = spans.last().map_or(start, |s| s.end.max(start));
            spans.push(begin..until);
        };
        match &self.keys {
            KeySearch::Packed(teddy) => teddy.find_iter(text).for_each(&mut on_key),
            KeySearch::Automaton(ac) => ac.find_iter(text).for_each(&mut on_key),
        }
        spans
    }

    /// Where the opener that holds the key found at `key` starts, if one does.
    fn opener_at(&self, text: &str, key: aho_corasick::Match) -> Option<usize> {
        self.openers_of_key[key.pattern()]
            .iter()
            .filter_map(|&(at, o)| Some((key.start().checked_sub(at)?, o)))
            .find(|&(start, o)| text.as_bytes()[start..].starts_with(self.openers[o].as_bytes()))
            .map(|(start, _)| start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inquiries() -> Inquiries {
        Inquiries::parse(include_str!("../../dictionaries/inquiries.txt")).unwrap()
    }

    fn asked(text: &str) -> Vec<&str> {
        inquiries()
            .spans(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn a_sentence_that_asks_is_an_inquiry_and_a_complaint_put_as_a_question_is_not() {
        assert_eq!(
            asked("请问隔离结束后需要做什么手续"),
            ["请问隔离结束后需要做什么手续"]
        );
        assert_eq!(
            asked("谢谢你们。想问一下，孩子的疫苗第二针什么时候可以打？我等通知。"),
            ["想问一下，孩子的疫苗第二针什么时候可以打？"]
        );
        // Asking why, or whether anyone cares, complains.
        assert!(asked("请问为什么三天了还没有人来送菜").is_empty());
        assert!(asked("请问社区是不是根本不管独居老人").is_empty());
        // What the sentence goes on to say after the clause that asks is said.
        assert_eq!(
            asked("打热线问怎么办理，接线员直接挂了我的电话"),
            ["打热线问怎么办理，"]
        );
        assert_eq!(
            asked("想问一下志愿者还缺人吗，我也想出一份力"),
            ["想问一下志愿者还缺人吗，"]
        );
        // Clauses that ask on after it ask too, but not one that complains.
        assert_eq!(
            asked("复工证明怎么办理？需要单位盖章吗"),
            ["复工证明怎么办理？需要单位盖章吗"]
        );
        assert_eq!(
            asked("请问热线的号码是多少，晚上也能打吗？谢谢"),
            ["请问热线的号码是多少，晚上也能打吗？"]
        );
        assert_eq!(asked("请问怎么办理？到底还要等多久"), ["请问怎么办理？"]);
        // A choice, or a verb asked both ways, asks too.
        assert_eq!(
            asked("问一下，采样点周末开不开"),
            ["问一下，采样点周末开不开"]
        );
        assert_eq!(
            asked("想咨询一下，费用是自己出还是政府出"),
            ["想咨询一下，费用是自己出还是政府出"]
        );
        assert_eq!(asked("请问阳性了应该先联系谁"), ["请问阳性了应该先联系谁"]);
        // An opener with nothing asked: a report of what others asked.
        assert!(asked("热线今天接了很多电话，大部分是想咨询出行政策的。").is_empty());
        assert!(asked("没有一句问话").is_empty());
    }

    #[test]
    fn the_search_without_simd_finds_what_the_simd_one_does() {
        let simd = inquiries();
        let mut plain = inquiries();
        let keys = ["问", "询", "解", "教", "听"];
        plain.keys = KeySearch::Automaton(aho_corasick::AhoCorasick::new(keys).unwrap());
        for text in [
            "请问隔离结束后需要做什么手续",
            "房间有问题。想咨询一下，退房要几点？听说要排队。",
            "了解一下方舱的情况吗",
            "请教：打听一下这里几点开门？解封了吗",
            "",
        ] {
            assert_eq!(simd.spans(text), plain.spans(text), "{text}");
        }
    }

    #[test]
    fn a_bad_section_is_named_with_its_line() {
        let err = Inquiries::parse("# x\n[openers]\n请问\n[others]\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("line 4"), "{err}");
        let err = Inquiries::parse("请问\n").err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = Inquiries::parse("[keys]\n问\n[openers]\n请问\n打听一下\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("打听一下"), "{err}");
    }
}
