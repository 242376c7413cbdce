//! Inquiries and notices (`inquiries.txt`): the sentences of a text that ask for information
//! or announce it and judge nothing, whose words then carry no learned polarity.

use anyhow::{bail, Result};
use std::ops::Range;

pub(crate) struct Inquiries {
    /// The key characters (`[keys]`), one of which every opener holds. Every text is searched
    /// for them, a few rare characters, which is a fraction of searching it for the openers
    /// (4.6% of the engine's instructions), whose first characters (想, 请, 了) are common.
    keys: Literals,
    /// For each key, the openers that hold it and where: (byte offset of the key, opener).
    openers_of_key: Vec<Vec<(usize, usize)>>,
    openers: Vec<String>,
    /// Which openers are question marks (`[questions]`), whose inquiry is their own clause:
    /// the clauses before it may tell a grievance the question then puts
    /// ("隔离点的饭菜都是凉的，这让人怎么吃？").
    clause_only: Vec<bool>,
    asks: aho_corasick::AhoCorasick,
    /// What a question's own clause must ask for to be an inquiry (`[facts]`): whether one may
    /// or must, when, where, how long, which. A question without one is more often put than
    /// asked ("这是人干的事吗？").
    facts: aho_corasick::AhoCorasick,
    complaints: aho_corasick::AhoCorasick,
    /// Words an inquiry asks about (`[topics]`), which weigh nothing in it.
    topics: Vec<String>,
    /// Words of a notice or report (`[notices]`: 截至, 即日起, 另行通知 …), then the words
    /// that open a request or suggestion (`[requests]`: 建议, 能否, 希望社区 …), searched for
    /// together: literals from `first_request` on are requests.
    notices: Literals,
    first_request: usize,
    /// The words that open the requests (建议, 希望, 恳请 …: each request's first two
    /// characters), which weigh nothing in one.
    request_openers: Vec<String>,
    /// Words by which a sentence speaks for someone (`[speakers]`: 我, 咱), which is then no
    /// notice: "我们接到通知…" goes on to say how it was taken.
    speakers: aho_corasick::AhoCorasick,
}

/// What a plain span of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plain {
    /// It asks for information.
    Inquiry,
    /// It announces or reports.
    Notice,
    /// It asks for something to be done or suggests it.
    Request,
}

/// A search for a few literals that most texts do not hold, so that the search is all they
/// cost: SIMD (Teddy) where the processor has it, an automaton elsewhere. Teddy tells a
/// candidate by its first bytes, so one literal of a single byte would make it stop at nearly
/// every byte (the ASCII `?` of `[questions]` added 14% to the engine's instructions); those are
/// found by `memchr` beside it.
struct Literals {
    wide: Wide,
    /// The index in the list of each literal `wide` holds, by its pattern number.
    wide_literal: Vec<usize>,
    /// The literals of one byte and their index in the list.
    bytes: Vec<(u8, usize)>,
}

enum Wide {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

impl Literals {
    fn new(literals: &[&str]) -> Literals {
        let (bytes, wide): (Vec<_>, Vec<_>) =
            literals.iter().enumerate().partition(|(_, l)| l.len() == 1);
        let words: Vec<&str> = wide.iter().map(|(_, l)| **l).collect();
        Literals {
            wide: match aho_corasick::packed::Searcher::new(words.iter()) {
                Some(teddy) => Wide::Packed(teddy),
                None => Wide::Automaton(automaton(&words)),
            },
            wide_literal: wide.iter().map(|(i, _)| *i).collect(),
            bytes: bytes.iter().map(|(i, l)| (l.as_bytes()[0], *i)).collect(),
        }
    }

    /// The same search without SIMD.
    #[cfg(test)]
    fn without_simd(literals: &[&str]) -> Literals {
        let mut search = Literals::new(literals);
        let words: Vec<&str> = search.wide_literal.iter().map(|&i| literals[i]).collect();
        search.wide = Wide::Automaton(automaton(&words));
        search
    }

    /// Calls `found(start, literal)` for each match in `text`, in order of where it starts.
    fn each(&self, text: &str, mut found: impl FnMut(usize, usize)) {
        // Most texts hold no match, and then nothing is allocated.
        let mut matches: Vec<(usize, usize)> = Vec::new();
        let wide =
            |m: aho_corasick::Match| matches.push((m.start(), self.wide_literal[m.pattern()]));
        match &self.wide {
            Wide::Packed(teddy) => teddy.find_iter(text).for_each(wide),
            Wide::Automaton(ac) => ac.find_iter(text).for_each(wide),
        }
        // Each source finds in order; more than one must be merged.
        let mut sources = usize::from(!matches.is_empty());
        for &(byte, literal) in &self.bytes {
            let before = matches.len();
            matches.extend(memchr::memchr_iter(byte, text.as_bytes()).map(|at| (at, literal)));
            sources += usize::from(matches.len() > before);
        }
        if sources > 1 {
            matches.sort_unstable();
        }
        for (at, literal) in matches {
            found(at, literal);
        }
    }
}

fn automaton(words: &[&str]) -> aho_corasick::AhoCorasick {
    aho_corasick::AhoCorasick::new(words).expect("a few short literals")
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

/// Where the stretch of `text` that holds byte `at` ends: after the first mark `ends` from
/// `at` on, or with the text.
fn end_from(text: &str, at: usize, ends: fn(char) -> bool) -> usize {
    text[at..]
        .char_indices()
        .find(|(_, c)| ends(*c))
        .map_or(text.len(), |(i, c)| at + i + c.len_utf8())
}

/// Where the stretch of `text` that holds byte `at` starts: after the last mark `ends` before
/// `at`, or with the text.
fn start_before(text: &str, at: usize, ends: fn(char) -> bool) -> usize {
    text[..at]
        .char_indices()
        .rev()
        .find(|(_, c)| ends(*c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// Where the clause of `text` that holds byte `at` ends: after its mark, or with the text.
fn clause_end(text: &str, at: usize) -> usize {
    end_from(text, at, ends_clause)
}

/// The sentence of `text` that holds byte `at`, with its closing mark.
fn sentence_at(text: &str, at: usize) -> Range<usize> {
    start_before(text, at, ends_sentence)..end_from(text, at, ends_sentence)
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

/// The sections of `inquiries.txt`, in the order `Inquiries::parse` takes them.
const SECTIONS: [&str; 10] = [
    "[openers]",
    "[asks]",
    "[complaints]",
    "[keys]",
    "[questions]",
    "[facts]",
    "[topics]",
    "[notices]",
    "[speakers]",
    "[requests]",
];

impl Inquiries {
    /// The `SECTIONS` of `inquiries.txt`.
    pub(crate) fn parse(text: &str) -> Result<Inquiries> {
        let mut sections: [Vec<&str>; SECTIONS.len()] = Default::default();
        let mut section = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            section = match SECTIONS.iter().position(|s| *s == line) {
                Some(s) => Some(s),
                None if line.starts_with('[') => {
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
        let [mut openers, asks, complaints, keys, questions, facts, topics, mut notices, speakers, requests] =
            sections;
        let first_request = notices.len();
        let mut request_openers: Vec<String> = requests
            .iter()
            .map(|r| r.chars().take(2).collect())
            .collect();
        request_openers.sort_unstable();
        request_openers.dedup();
        notices.extend(requests);
        let mut clause_only = vec![false; openers.len()];
        clause_only.resize(openers.len() + questions.len(), true);
        openers.extend(questions);
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
        Ok(Inquiries {
            keys: Literals::new(&keys),
            openers_of_key,
            openers: openers.iter().map(|o| o.to_string()).collect(),
            clause_only,
            asks: automaton(&asks),
            facts: automaton(&facts),
            complaints: automaton(&complaints),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            notices: Literals::new(&notices),
            first_request,
            request_openers,
            speakers: automaton(&speakers),
        })
    }

    /// The byte ranges of `text` that are inquiries. A sentence with an opener, a sign that it
    /// asks (a question mark, a particle, a question word) and no complaint is one from its
    /// start to the end of the clause that asks, and on over the clauses after that ask too.
    fn inquiries(&self, text: &str) -> Vec<Range<usize>> {
        let mut spans: Vec<Range<usize>> = Vec::new();
        let on_key = |at: usize, key: usize| {
            let Some((opener, clause_only)) = self.opener_at(text, at, key) else {
                return;
            };
            if spans.last().is_some_and(|s| opener < s.end) {
                return;
            }
            // A question mark opens its own clause only (`clause_only`), which must ask for a
            // fact; most do not, so that is asked first (Weibo posts hold a question mark in
            // three of four).
            let clause = clause_only.then(|| start_before(text, opener, ends_clause));
            if clause.is_some_and(|c| !self.facts.is_match(&text[c..clause_end(text, opener)])) {
                return;
            }
            let Range { start, end } = sentence_at(text, opener);
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
            let start = clause.unwrap_or(start);
            let begin = spans.last().map_or(start, |s| s.end.max(start));
            spans.push(begin..until);
        };
        self.keys.each(text, on_key);
        spans
    }

    /// The plain spans of `text`: its inquiries (`inquiries`), then its notices and requests
    /// (`notices_and_requests_in`) where no inquiry is.
    pub(crate) fn spans(&self, text: &str) -> Vec<(Range<usize>, Plain)> {
        let mut spans: Vec<(Range<usize>, Plain)> = self
            .inquiries(text)
            .into_iter()
            .map(|r| (r, Plain::Inquiry))
            .collect();
        let inquiries = spans.len();
        for (told, kind) in self.notices_and_requests_in(text) {
            if !spans[..inquiries]
                .iter()
                .any(|(r, _)| r.start < told.end && told.start < r.end)
            {
                spans.push((told, kind));
            }
        }
        spans
    }

    /// The sentences of `text` that announce or report, with a word of a notice (`[notices]`)
    /// and without a speaker (`[speakers]`), and those that request or suggest, with a word of
    /// a request (`[requests]`; a speaker may make one: "我建议…"). Neither holds a complaint or
    /// ends in an exclamation mark.
    fn notices_and_requests_in(&self, text: &str) -> Vec<(Range<usize>, Plain)> {
        let mut spans: Vec<(Range<usize>, Plain)> = Vec::new();
        self.notices.each(text, |at, literal| {
            if spans.last().is_some_and(|(s, _)| at < s.end) {
                return;
            }
            let kind = if literal < self.first_request {
                Plain::Notice
            } else {
                Plain::Request
            };
            let mut span = sentence_at(text, at);
            if kind == Plain::Request {
                // A request runs from its clause, whatever the sentence said before it ("电视机
                // 破了点,希望可以更换"), to the end of its sentence.
                span.start = start_before(text, at, ends_clause);
            }
            let sentence = &text[span.clone()];
            // A request put as a question ("建议直接封城?") is not meant.
            let put_as_question = kind == Plain::Request && sentence.ends_with(['？', '?']);
            if !(put_as_question
                || sentence.ends_with(['！', '!'])
                || (kind == Plain::Notice && self.speakers.is_match(sentence))
                || self.complaints.is_match(sentence))
            {
                spans.push((span, kind));
            }
        });
        spans
    }

    /// Whether `term` is a word that opens a request (`[requests]`).
    pub(crate) fn opens_request(&self, term: &str) -> bool {
        self.request_openers.iter().any(|o| o == term)
    }

    /// Whether `term` is a word an inquiry asks about (`[topics]`).
    pub(crate) fn is_topic(&self, term: &str) -> bool {
        self.topics.iter().any(|t| t == term)
    }

    /// Where the opener that holds the key `key` found at byte `found` starts, if one does, and
    /// whether it is a question mark (`clause_only`).
    fn opener_at(&self, text: &str, found: usize, key: usize) -> Option<(usize, bool)> {
        self.openers_of_key[key]
            .iter()
            .filter_map(|&(at, o)| Some((found.checked_sub(at)?, o)))
            .find(|&(start, o)| text.as_bytes()[start..].starts_with(self.openers[o].as_bytes()))
            .map(|(start, o)| (start, self.clause_only[o]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inquiries() -> Inquiries {
        Inquiries::parse(include_str!("../../dictionaries/inquiries.txt")).unwrap()
    }

    fn plain(text: &str, kind: Plain) -> Vec<&str> {
        inquiries()
            .spans(text)
            .into_iter()
            .filter(|(_, k)| *k == kind)
            .map(|(r, _)| &text[r])
            .collect()
    }

    fn asked(text: &str) -> Vec<&str> {
        plain(text, Plain::Inquiry)
    }

    fn announced(text: &str) -> Vec<&str> {
        plain(text, Plain::Notice)
    }

    fn requested(text: &str) -> Vec<&str> {
        plain(text, Plain::Request)
    }

    #[test]
    fn a_request_runs_from_its_clause_and_a_hope_a_plea_or_a_complaint_is_none() {
        assert_eq!(
            requested("建议社区增加几个核酸采样点，方便老人就近检测"),
            ["建议社区增加几个核酸采样点，方便老人就近检测"]
        );
        // What the sentence said before the request's clause is said.
        assert_eq!(
            requested("隔离酒店的饭菜很可口，我建议继续保持。谢谢"),
            ["我建议继续保持。"]
        );
        assert_eq!(requested("电视机破了点,希望可以更换."), ["希望可以更换."]);
        // A hope, a plea for help, a request put as a question or exclaimed, and one that
        // complains are none.
        for text in [
            "希望疫情早点结束",
            "希望能控制住",
            "武汉医院请求支援",
            "建议直接封城?",
            "建议严查！",
            "建议社区管管那些不戴口罩乱跑的人",
            "希望物业别再敷衍了，为什么垃圾没人清",
        ] {
            assert!(requested(text).is_empty(), "{text}");
        }
        // Those asked must follow 希望.
        assert_eq!(
            requested("希望学校把网课的课表提前一周发出来"),
            ["希望学校把网课的课表提前一周发出来"]
        );
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
    fn a_question_without_an_opener_asks_in_its_own_clause_when_it_asks_for_a_fact() {
        assert_eq!(asked("密接的家属需要隔离吗？"), ["密接的家属需要隔离吗？"]);
        assert_eq!(
            asked("抗原自测阳性了，要上报给谁？我很担心"),
            ["要上报给谁？"]
        );
        // The clause before it may tell a grievance, which keeps its weight.
        assert_eq!(
            asked("封了一个月，我们的生活费谁来出？"),
            ["我们的生活费谁来出？"]
        );
        // A question that asks for no fact is more often put than asked.
        assert!(asked("这是人干的事吗？").is_empty());
        assert!(asked("隔离点的饭菜都是凉的，这让人怎么吃？").is_empty());
        // A complaint anywhere in its sentence keeps it from being an inquiry.
        assert!(asked("发烧了没人管，什么时候能来人？").is_empty());
    }

    #[test]
    fn official_wording_announces_unless_someone_speaks_complains_or_exclaims() {
        assert_eq!(
            announced("截至昨日24时，本市累计报告确诊病例36例。谢谢大家配合"),
            ["截至昨日24时，本市累计报告确诊病例36例。"]
        );
        assert_eq!(
            announced("下午三点起，东街菜市场暂停营业，恢复时间另行通知"),
            ["下午三点起，东街菜市场暂停营业，恢复时间另行通知"]
        );
        assert!(announced("我们接到通知，明天下午另行通知时间").is_empty());
        assert!(announced("即日起又不让出门了！").is_empty());
        assert!(announced("说好另行通知，到现在一直没人管").is_empty());
        // A notice as such is what feedback talks about, not how a notice is worded.
        assert!(announced("居委会发的通知前后矛盾").is_empty());
        // An inquiry is not read again as a notice.
        assert_eq!(
            inquiries().spans("请问截至什么时候可以报名？"),
            [(0..39, Plain::Inquiry)]
        );
    }

    #[test]
    fn the_search_without_simd_finds_what_the_simd_one_does() {
        let simd = inquiries();
        let mut plain = inquiries();
        // The [keys] of the file, in its order, which the openers are indexed by.
        let file = include_str!("../../dictionaries/inquiries.txt");
        let keys: Vec<&str> = file
            .lines()
            .skip_while(|l| *l != "[keys]")
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(keys.len() > 10, "{keys:?}");
        plain.keys = Literals::without_simd(&keys);
        for text in [
            "请问隔离结束后需要做什么手续",
            "房间有问题。想咨询一下，退房要几点？听说要排队。",
            "了解一下方舱的情况吗",
            "请教：打听一下这里几点开门？解封了吗",
            "封了一个月，我们的生活费谁来出？怎么申请补助",
            "核酸几点开始?需要预约吗?请问在哪里",
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
