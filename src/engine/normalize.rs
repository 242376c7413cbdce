//! Text as the engine reads it: simplified characters, Weibo forms resolved.
//!
//! - Traditional characters become simplified (OpenCC's character table).
//! - URLs and `@mentions` are dropped; `#话题#` keeps its words.
//! - In a repost chain (`我的话//@某人:原文`) the poster's own words are scored; a bare repost
//!   falls back to the text it reposts. Crisis detection reads the chain whole: a reposted
//!   "不想活了" is someone to reach.
//! - Bracket emoticons (`[泪]`) and emoji are taken out and returned separately, since they carry
//!   sentiment but would confuse segmentation.

use rustc_hash::FxHashMap;
use std::borrow::Cow;

pub struct Normaliser {
    t2s: FxHashMap<char, char>,
    /// A bit per BMP code point that has a simplified form: most characters skip the map.
    traditional: Vec<u64>,
    emoticons: FxHashMap<String, usize>,
    max_emoji_chars: usize,
}

/// A normalised text and the emoticons found in it (indexes into the emoticon table).
pub struct Normalised {
    pub text: String,
    pub emoticons: Vec<usize>,
    /// The whole text, normalised, when a repost chain goes on past the words in `text`.
    pub with_reposts: Option<String>,
    /// Where a joke's mark (`JOKE_TAGS`) was taken out of `text`, and of `with_reposts`, by byte.
    jokes: Vec<usize>,
    repost_jokes: Vec<usize>,
}

/// Bracket emoticons that mark a text as a joke, as （狗头） does in words ("我不活了[doge]").
/// Taken out like every emoticon, they are put back for the crisis detectors as （狗头）, which
/// the hard negatives of `crisis.toml` know.
const JOKE_TAGS: [&str; 2] = ["[doge]", "[狗头]"];
const JOKE_MARK: &str = "（狗头）";

impl Normalised {
    /// The text the crisis detectors read: the whole repost chain where there is one, with a
    /// joke's mark where an emoticon said it.
    pub fn crisis_text(&self) -> Cow<'_, str> {
        match &self.with_reposts {
            Some(whole) => with_jokes(whole, &self.repost_jokes),
            None => self.own_crisis_text(),
        }
    }

    /// The poster's own words (`text`) with a joke's mark where an emoticon said it.
    pub fn own_crisis_text(&self) -> Cow<'_, str> {
        with_jokes(&self.text, &self.jokes)
    }
}

/// `text` with `JOKE_MARK` in the space an emoticon left at each of `jokes`.
fn with_jokes<'t>(text: &'t str, jokes: &[usize]) -> Cow<'t, str> {
    if jokes.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut marked = String::with_capacity(text.len() + jokes.len() * JOKE_MARK.len());
    let mut from = 0;
    for &at in jokes {
        marked.push_str(&text[from..at]);
        marked.push_str(JOKE_MARK);
        // Past the space the emoticon left.
        from = at + 1;
    }
    marked.push_str(&text[from..]);
    Cow::Owned(marked)
}

impl Normaliser {
    pub fn new(t2s_table: &str, emoticon_keys: &[String]) -> Normaliser {
        let mut t2s = FxHashMap::default();
        let mut traditional = vec![0u64; 0x10000 / 64];
        for line in t2s_table.lines() {
            let mut parts = line.split('\t');
            let (Some(t), Some(s)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Some(t), Some(s)) = (t.chars().next(), s.chars().next()) else {
                continue;
            };
            t2s.insert(t, s);
            if (t as u32) < 0x10000 {
                traditional[t as usize / 64] |= 1 << (t as usize % 64);
            }
        }
        let emoticons: FxHashMap<String, usize> = emoticon_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let max_emoji_chars = emoticon_keys
            .iter()
            .filter(|k| !k.starts_with('['))
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(1);
        Normaliser {
            t2s,
            traditional,
            emoticons,
            max_emoji_chars,
        }
    }

    fn is_traditional(&self, c: char) -> bool {
        let u = c as u32;
        if u < 0x10000 {
            self.traditional[u as usize / 64] & (1 << (u as usize % 64)) != 0
        } else {
            self.t2s.contains_key(&c)
        }
    }

    /// The byte length of the leading run of `text` that normalising leaves as it is.
    #[inline]
    fn plain_run(&self, text: &str) -> usize {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let lead = b[i];
            if lead < 0x80 {
                if lead < 0x20 || lead == 0x7F || matches!(lead, b'[' | b'h' | b'H' | b'@' | b'#') {
                    return i;
                }
                i += 1;
                continue;
            }
            // A character of two bytes (C0–DF) may be a C1 control; four bytes (F0–) may be
            // an emoji; three bytes (E0–EF) may be traditional or an emoji of the 2600 block.
            if !(0xE0..0xF0).contains(&lead) {
                return i;
            }
            let Some(&[b1, b2]) = b.get(i + 1..i + 3) else {
                return i;
            };
            let c =
                (u32::from(lead & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
            if self.traditional[c as usize / 64] & (1 << (c % 64)) != 0
                || (0x2600..=0x27BF).contains(&c)
            {
                return i;
            }
            i += 3;
        }
        i
    }

    pub fn normalise(&self, raw: &str) -> Normalised {
        let own = own_words(raw);
        let (text, emoticons, jokes) = self.normalise_part(own);
        // The own words (a part of `raw`) end before it does when a chain follows them.
        let own_end = own.as_ptr() as usize - raw.as_ptr() as usize + own.len();
        let (with_reposts, repost_jokes) = if own_end < raw.len() {
            let (whole, _, whole_jokes) = self.normalise_part(raw);
            (Some(whole), whole_jokes)
        } else {
            (None, Vec::new())
        };
        Normalised {
            text,
            emoticons,
            with_reposts,
            jokes,
            repost_jokes,
        }
    }

    /// A part of a text normalised, the emoticons found in it, and where a joke's mark was
    /// (`Normalised::jokes`).
    fn normalise_part(&self, own: &str) -> (String, Vec<usize>, Vec<usize>) {
        let mut text = String::with_capacity(own.len());
        let mut emoticons = Vec::new();
        let mut jokes = Vec::new();
        // A byte position in `own`, always on a character boundary: no decoded copy of the
        // text is made.
        let mut i = 0;
        loop {
            // A run of ordinary characters (simplified, not a control character, not the start
            // of a Weibo form) is copied at once: most texts are one such run.
            let plain = self.plain_run(&own[i..]);
            text.push_str(&own[i..i + plain]);
            i += plain;
            let Some(c) = own[i..].chars().next() else {
                break;
            };
            let rest = &own[i..];
            // Ordinary ideographs and ASCII letters, digits and punctuation go straight
            // through (an ideograph may still be traditional).
            let special = matches!(c, '[' | 'h' | 'H' | '@' | '#') || is_emoji_start(c);
            if !special {
                let c = if self.is_traditional(c) {
                    self.t2s.get(&c).copied().unwrap_or(c)
                } else {
                    c
                };
                // Control characters become spaces so that they never reach the segmenter.
                text.push(if c.is_control() { ' ' } else { c });
                i += c_len(rest);
                continue;
            }
            // Bracket emoticons: [泪], [哈哈] …
            if c == '[' {
                if let Some((len, _)) = rest[1..].char_indices().take(8).find(|&(_, c)| c == ']') {
                    let tag = &rest[..len + 2];
                    if let Some(&index) = self.emoticons.get(tag) {
                        emoticons.push(index);
                    }
                    if JOKE_TAGS.contains(&tag) {
                        jokes.push(text.len());
                    }
                    // Unknown bracket tags are dropped too: they are emoticons, not words.
                    text.push(' ');
                    i += tag.len();
                    continue;
                }
            }
            // URLs.
            if (c == 'h' || c == 'H') && starts_with_url(rest) {
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| c.is_whitespace() || (c as u32) >= 0x3000)
                    .map_or(rest.len(), |(p, _)| p);
                text.push(' ');
                i += end;
                continue;
            }
            // @mentions end at a space, punctuation or a colon.
            if c == '@' {
                let after = &rest[1..];
                let mut end = after
                    .char_indices()
                    .find(|&(_, c)| is_mention_end(c))
                    .map_or(after.len(), |(p, _)| p);
                if let Some(colon @ (':' | '：')) = after[end..].chars().next() {
                    end += colon.len_utf8();
                }
                text.push(' ');
                i += 1 + end;
                continue;
            }
            if c == '#' {
                text.push(' ');
                i += 1;
                continue;
            }
            if is_emoji_start(c) {
                // Emoji are looked up as whole sequences, longest first.
                let ends: Vec<usize> = rest
                    .char_indices()
                    .skip(1)
                    .map(|(p, _)| p)
                    .chain(std::iter::once(rest.len()))
                    .take(self.max_emoji_chars)
                    .collect();
                let found = ends
                    .iter()
                    .rev()
                    .find_map(|&end| self.emoticons.get(&rest[..end]).map(|&index| (index, end)));
                match found {
                    Some((index, end)) => {
                        emoticons.push(index);
                        i += end;
                    }
                    None => i += c_len(rest),
                }
                text.push(' ');
                continue;
            }
            // 'h' or 'H' that starts no URL, or '[' with no closing bracket.
            text.push(c);
            i += c_len(rest);
        }
        (text, emoticons, jokes)
    }
}

/// The byte length of the first character of a non-empty string.
fn c_len(s: &str) -> usize {
    s.chars().next().map_or(1, char::len_utf8)
}

/// The poster's own words in a repost chain, or the reposted text when the poster added none.
fn own_words(raw: &str) -> &str {
    // Most texts have no slash at all: one byte search rules the chain out.
    let chain = raw
        .find('/')
        .and_then(|p| raw[p..].find("//@").map(|q| p + q));
    match chain {
        None => raw,
        Some(0) => {
            let rest = &raw[3..];
            let after_colon = rest
                .find([':', '：'])
                .map(|p| &rest[p + rest[p..].chars().next().map_or(1, char::len_utf8)..])
                .unwrap_or(rest);
            own_words(after_colon)
        }
        Some(p) if raw[..p].trim().is_empty() => own_words(&raw[p..]),
        Some(p) => &raw[..p],
    }
}

fn starts_with_url(text: &str) -> bool {
    let b = text.as_bytes();
    (b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://"))
        || (b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://"))
}

fn is_mention_end(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ':' | '：' | ',' | '，' | '。' | '!' | '！' | '?' | '？' | '/' | '@' | '[' | '#'
        )
}

fn is_emoji_start(c: char) -> bool {
    let u = c as u32;
    (0x1F000..=0x1FAFF).contains(&u) || (0x2600..=0x27BF).contains(&u) || u == 0x2764
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser {
        Normaliser::new(
            "們\t们\n這\t这\n邊\t边\n離\t离\n",
            &["[泪]".to_string(), "😭".to_string(), "❤️".to_string()],
        )
    }

    #[test]
    fn weibo_forms() {
        let n = normaliser();
        let out = n.normalise("太难了[泪]//@某某:转发微博 http://t.cn/abc #抗疫#");
        assert_eq!(out.text.trim(), "太难了");
        assert_eq!(out.emoticons, vec![0]);
        // Crisis detection reads the chain whole; a bare repost has no chain after it.
        assert!(out.crisis_text().contains("太难了") && out.crisis_text().contains("转发微博"));
        assert!(!out.crisis_text().contains("某某") && !out.crisis_text().contains("http"));
        let out = n.normalise("//@小明:我們這邊還在隔離😭");
        assert_eq!(out.text.trim(), "我们这边還在隔离");
        assert_eq!(out.emoticons, vec![1]);
        assert!(out.with_reposts.is_none());
        // A joke's mark is taken out of the words and put back, as words, for the crisis
        // detectors: the own words' and the chain's each where it was.
        let out = n.normalise("我不活了[doge]//@某某:加班到十点[狗头]");
        assert_eq!(out.text.trim(), "我不活了");
        assert_eq!(out.own_crisis_text().trim(), "我不活了（狗头）");
        assert_eq!(out.crisis_text(), "我不活了（狗头）// 加班到十点（狗头）");
        let out = n.normalise("@张三 谢谢你❤️ #加油武汉#");
        assert!(out.text.contains("谢谢你") && out.text.contains("加油武汉"));
        assert_eq!(out.emoticons, vec![2]);
    }
}
