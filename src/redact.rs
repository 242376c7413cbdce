//! Confidentiality at ingest: personal data is removed from free text before anything is
//! stored, and identities become keyed pseudonyms.
//!
//! Redaction replaces each item with a typed placeholder (〔手机号〕, 〔身份证号〕 …) so a reader
//! still sees that a number was given. Counts, dates and public service numbers (96345, 12355,
//! 12320, 12345, 400-…) are kept: the patterns below only match the shapes of personal numbers,
//! and each match is checked against its neighbours so that a longer run of digits is never
//! partly redacted.

use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;
use std::borrow::Cow;
use std::path::Path;
use std::sync::LazyLock;

pub const PHONE: &str = "〔手机号〕";
pub const LANDLINE: &str = "〔电话〕";
pub const ID_NUMBER: &str = "〔身份证号〕";
pub const BANK_CARD: &str = "〔银行卡号〕";
pub const EMAIL: &str = "〔邮箱〕";
pub const PLATE: &str = "〔车牌号〕";
pub const ADDRESS: &str = "〔详细地址〕";
pub const NAME: &str = "〔姓名〕";

struct Rule {
    re: Regex,
    placeholder: &'static str,
    /// Whether the characters either side of a match must not be digits or letters.
    bounded: bool,
    /// A further check on the matched text and the text before it (e.g. a plausible birth
    /// date in an ID number).
    accept: fn(&str, &str) -> bool,
}

fn always(_: &str, _: &str) -> bool {
    true
}

fn digits_only(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == 'X')
        .collect()
}

/// An 18-digit resident ID carries a birth date at positions 7–14.
fn plausible_id(s: &str, _before: &str) -> bool {
    let d = digits_only(&s.to_ascii_uppercase());
    if d.len() != 18 && d.len() != 15 {
        return false;
    }
    let (y, m, day) = if d.len() == 18 {
        (&d[6..10], &d[10..12], &d[12..14])
    } else {
        // The old 15-digit form has a two-digit year.
        ("1900", &d[8..10], &d[10..12])
    };
    let ok = |v: &str, lo: u32, hi: u32| v.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n));
    ok(y, 1900, 2030) && ok(m, 1, 12) && ok(day, 1, 31)
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, placeholder, bounded, accept: fn(&str, &str) -> bool| Rule {
        re: Regex::new(pattern).expect("redaction pattern compiles"),
        placeholder,
        bounded,
        accept,
    };
    vec![
        rule(
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            EMAIL,
            false,
            always,
        ),
        // Resident ID: 6-digit area, 8-digit birth date, 3 digits and a check digit or X,
        // written straight or in 6-8-4 groups.
        rule(
            r"[1-9]\d{5}[ \-]?(?:18|19|20)\d{2}[ \-]?\d{4}[ \-]?\d{3}[0-9Xx]|[1-9]\d{7}[01]\d[0-3]\d\d{3}",
            ID_NUMBER,
            true,
            plausible_id,
        ),
        // Bank cards: 16 to 19 digits, straight or in groups of four.
        rule(
            r"\d{4}(?:[ \-]?\d{4}){3}(?:[ \-]?\d{1,3})?",
            BANK_CARD,
            true,
            always,
        ),
        // Mobile numbers, with or without +86 / 0086, spaced 3-4-4 or dashed.
        rule(
            r"(?:(?:\+|＋|00)86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}",
            PHONE,
            true,
            always,
        ),
        // Landlines: area code 0xx(x) and a 7–8 digit number, or +86 and the area code without 0.
        rule(
            r"(?:(?:\+|＋|00)86[ \-]?\(?[1-9]\d{1,2}\)?|\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})[ \-]?[2-9]\d{2,3}[ \-]?\d{4}",
            LANDLINE,
            true,
            always,
        ),
        // A local number without area code, only where the text says it is a number.
        rule(
            r"(?:电话|手机|座机|号码|联系方式|tel|Tel|TEL)(?:是|为)?[:： ]*[2-9]\d{2,3}[ \-]?\d{4}",
            LANDLINE,
            true,
            always,
        ),
        rule(
            r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][·\- ]?[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警]?",
            PLATE,
            true,
            always,
        ),
        rule(
            r"(?:[0-9一二三四五六七八九十百零〇]+[\-－]?(?:号楼|号院|栋|幢|单元|室|号|楼|层|户|弄)){1,5}",
            ADDRESS,
            false,
            detailed_address,
        ),
        // Full names given with a cue ("我叫张伟", "姓名：李娜").
        rule(
            r"(?:我叫|名叫|姓名[:：是]?|联系人[:：是]?)[ ]?[\p{Han}]{2,3}",
            NAME,
            false,
            name_follows_cue,
        ),
    ]
});

/// A detailed address names a building, unit or room, or a house number on a road;
/// "2月3号" (a date) and "3楼" alone are not addresses.
fn detailed_address(s: &str, before: &str) -> bool {
    ["栋", "幢", "单元", "室", "号楼", "号院", "弄"]
        .iter()
        .any(|k| s.contains(k))
        || (s.contains('号')
            && ["路", "街", "巷", "道", "村", "胡同"]
                .iter()
                .any(|k| before.ends_with(k)))
}

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";

const NAME_CUES: [&str; 4] = ["我叫", "名叫", "姓名", "联系人"];

/// The part after the cue must start with a common surname to count as a name.
fn name_follows_cue(s: &str, _before: &str) -> bool {
    let rest = NAME_CUES
        .iter()
        .find_map(|c| s.strip_prefix(c))
        .unwrap_or(s)
        .trim_start_matches([':', '：', '是', ' ']);
    rest.chars().next().is_some_and(|c| SURNAMES.contains(c))
}

/// Removes personal data from free text.
pub struct Redactor;

impl Redactor {
    /// The text with every personal item replaced by its placeholder.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !might_hold_personal_data(text) {
            return Cow::Borrowed(text);
        }
        // Full-width digits ("１３８…") are read as ASCII so that one set of patterns serves.
        let mut current: Cow<'a, str> = if text.contains(is_fullwidth_digit) {
            Cow::Owned(
                text.chars()
                    .map(|c| {
                        if is_fullwidth_digit(c) {
                            char::from(b'0' + (c as u32 - 0xff10) as u8)
                        } else {
                            c
                        }
                    })
                    .collect(),
            )
        } else {
            Cow::Borrowed(text)
        };
        for rule in RULES.iter() {
            if let Some(next) = apply(rule, &current) {
                current = Cow::Owned(next);
            }
        }
        current
    }
}

fn is_fullwidth_digit(c: char) -> bool {
    ('\u{ff10}'..='\u{ff19}').contains(&c)
}

/// Cheap pre-check so that most messages (no digits, no @, no address words) skip the regexes.
fn might_hold_personal_data(text: &str) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    digits >= 4
        || text.contains('@')
        || text.bytes().any(|b| b.is_ascii_uppercase())
        || text.contains(['栋', '幢', '室', '弄', '号'])
        || text.contains("单元")
        || NAME_CUES.iter().any(|c| text.contains(c))
        || text.contains(is_fullwidth_digit)
}

fn apply(rule: &Rule, text: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    for m in rule.re.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if rule.bounded && (alnum(before) || alnum(after)) {
            continue;
        }
        if !(rule.accept)(m.as_str(), &text[..m.start()]) {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        if rule.placeholder == NAME {
            // Keep the cue ("我叫〔姓名〕"), replace only the name.
            let cue_len = NAME_CUES
                .iter()
                .find(|c| m.as_str().starts_with(*c))
                .map_or(0, |c| c.len());
            out.push_str(&m.as_str()[..cue_len]);
        }
        out.push_str(rule.placeholder);
        last = m.end();
        changed = true;
    }
    changed.then(|| {
        out.push_str(&text[last..]);
        out
    })
}

/// Keyed pseudonyms: the same person gets the same pseudonym with the same key, and without
/// the key a pseudonym cannot be turned back into the identifier.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}

pub const KEY_ENV: &str = "XINQING_PSEUDONYM_KEY";
pub const KEY_FILE_ENV: &str = "XINQING_KEY_FILE";
const MIN_KEY_BYTES: usize = 16;

impl Pseudonymizer {
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, String> {
        let key = key.into();
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the pseudonym key is {} bytes; at least {MIN_KEY_BYTES} are needed",
                key.len()
            ));
        }
        Ok(Pseudonymizer { key })
    }

    /// The key from XINQING_PSEUDONYM_KEY, or from the file XINQING_KEY_FILE names.
    pub fn from_env() -> Result<Self, String> {
        if let Ok(key) = std::env::var(KEY_ENV) {
            return Self::new(key.trim().as_bytes().to_vec())
                .map_err(|e| format!("{KEY_ENV}: {e}"));
        }
        if let Ok(path) = std::env::var(KEY_FILE_ENV) {
            return Self::from_file(Path::new(&path)).map_err(|e| format!("{KEY_FILE_ENV}: {e}"));
        }
        Err(format!(
            "no pseudonym key: set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} characters, \
             or {KEY_FILE_ENV} to a file holding one (readable only by its owner)"
        ))
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let raw =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        "the pseudonym key file is readable by others; chmod 600 it"
                    );
                }
            }
        }
        let text = String::from_utf8_lossy(&raw);
        Self::new(text.trim().as_bytes().to_vec())
    }

    /// A stable pseudonym such as `A-3f9c0b1d2e4a5b6c` for an identifier in a role.
    pub fn pseudonym(&self, prefix: &str, identifier: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(prefix.as_bytes());
        mac.update(&[0x1f]);
        mac.update(identifier.trim().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{prefix}{}", hex::encode(&digest[..8]))
    }
}

/// Creates a random key file readable only by its owner, unless one exists.
pub fn ensure_key_file(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut bytes = [0u8; 32];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path)?;
    writeln!(f, "{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        Redactor.redact(s).into_owned()
    }

    #[test]
    fn phones_in_every_form() {
        for (input, want) in [
            ("电话13812345678请回电", "电话〔手机号〕请回电"),
            ("打138 1234 5678找我", "打〔手机号〕找我"),
            ("号码138-1234-5678", "号码〔手机号〕"),
            ("+86 138 1234 5678", "〔手机号〕"),
            ("+8613812345678", "〔手机号〕"),
            ("座机0571-88123456", "座机〔电话〕"),
            ("(010)62345678", "〔电话〕"),
            ("+86 21 6234 5678", "〔电话〕"),
        ] {
            assert_eq!(r(input), want, "input {input}");
        }
    }

    #[test]
    fn ids_cards_emails_plates_addresses() {
        assert_eq!(r("身份证110101199003071234"), "身份证〔身份证号〕");
        assert_eq!(r("身份证11010119900307123X"), "身份证〔身份证号〕");
        assert_eq!(r("卡号6222 0212 3456 7890 123"), "卡号〔银行卡号〕");
        assert_eq!(r("卡号6222021234567890"), "卡号〔银行卡号〕");
        assert_eq!(r("发到zhang.san@example.com"), "发到〔邮箱〕");
        assert_eq!(r("车牌浙A12345停在门口"), "车牌〔车牌号〕停在门口");
        assert_eq!(r("住幸福小区3栋2单元501室"), "住幸福小区〔详细地址〕");
        assert_eq!(r("在12号楼隔离"), "在〔详细地址〕隔离");
        assert_eq!(r("我叫张伟，很焦虑"), "我叫〔姓名〕，很焦虑");
        assert_eq!(r("住人民路128号"), "住人民路〔详细地址〕");
        assert_eq!(r("电话１３８１２３４５６７８"), "电话〔手机号〕");
        assert_eq!(r("电话：5821 3456"), "〔电话〕");
    }

    #[test]
    fn counts_dates_and_service_numbers_survive() {
        for keep in [
            "隔离14天，已经3次核酸",
            "请拨打96345或12355，也可以打12320、12345",
            "全国热线400-161-9995",
            "2020-02-01 到 2020-02-14",
            "2020年2月3号开始",
            "住在3楼",
            "我是学生",
            "本人很焦虑，患者何时出院",
            "共筛查1200人，阳性85人",
        ] {
            assert_eq!(r(keep), keep);
        }
    }
}
