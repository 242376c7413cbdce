//! The canonical record layouts: columns, their Chinese header aliases, their types and the
//! value vocabularies of the coded columns. Ingest, mapping files and the store are all driven
//! from these tables, so a column is described once.

use std::fmt;

/// The three kinds of input an office hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Hotline,
    Feedback,
    Screening,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Hotline, Kind::Feedback, Kind::Screening];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hotline => "hotline",
            Kind::Feedback => "feedback",
            Kind::Screening => "screening",
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Kind::Hotline => "hotline_calls",
            Kind::Feedback => "feedback_messages",
            Kind::Screening => "screening_aggregates",
        }
    }

    /// The primary-key column of the stored table.
    pub fn key_column(self) -> &'static str {
        match self {
            Kind::Hotline => "call_id",
            Kind::Feedback => "msg_id",
            Kind::Screening => "agg_key",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Hotline => HOTLINE,
            Kind::Feedback => FEEDBACK,
            Kind::Screening => SCREENING,
        }
    }

    /// The column holding free text that the text engine scores, if any.
    pub fn text_column(self) -> Option<&'static str> {
        match self {
            Kind::Hotline => Some("notes"),
            Kind::Feedback => Some("text"),
            Kind::Screening => None,
        }
    }

    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown kind '{s}' (expected hotline, feedback or screening)"))
    }
}

/// How a column's raw cell is read and what is stored.
#[derive(Debug, Clone, Copy)]
pub enum ColType {
    /// A source system's record ID, kept verbatim so the source can find the person again.
    Id,
    /// Free text: redacted before storage.
    Text,
    /// A short label (line, provider, region, handler): also redacted, since offices type anything.
    Label,
    /// A date and time, stored as Asia/Shanghai local time.
    Timestamp,
    /// A calendar date.
    Date,
    /// An integer within bounds.
    Int { min: i64, max: i64 },
    /// A coded value from a vocabulary.
    Code(&'static Vocabulary),
    /// A person's identifier: stored only as a keyed pseudonym with this prefix.
    Pseudonym(&'static str),
    /// Referral: yes / no / the text of where the caller was referred.
    Referral,
}

impl ColType {
    /// The DuckDB type of the stored column.
    pub fn sql_type(self) -> &'static str {
        match self {
            ColType::Timestamp => "TIMESTAMP",
            ColType::Date => "DATE",
            ColType::Int { .. } => "INTEGER",
            _ => "VARCHAR",
        }
    }
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    /// Header spellings accepted as they are (compared after trimming and case-folding).
    pub aliases: &'static [&'static str],
    pub ty: ColType,
    pub required: bool,
}

const fn col(
    name: &'static str,
    aliases: &'static [&'static str],
    ty: ColType,
    required: bool,
) -> Column {
    Column {
        name,
        aliases,
        ty,
        required,
    }
}

/// A coded vocabulary: each code with the spellings offices use for it.
#[derive(Debug)]
pub struct Vocabulary {
    pub name: &'static str,
    pub codes: &'static [(&'static str, &'static [&'static str])],
}

impl Vocabulary {
    /// The code for a raw value, matching the code itself or any alias after normalisation.
    pub fn lookup(&self, raw: &str) -> Option<&'static str> {
        // Most exports spell codes exactly as listed; only the rest pay for folding.
        let exact = raw.trim();
        if let Some((code, _)) = self
            .codes
            .iter()
            .find(|(code, aliases)| *code == exact || aliases.contains(&exact))
        {
            return Some(code);
        }
        let wanted = fold(raw);
        self.codes.iter().find_map(|(code, aliases)| {
            (fold(code) == wanted || aliases.iter().any(|a| fold(a) == wanted)).then_some(*code)
        })
    }

    pub fn code_list(&self) -> String {
        self.codes
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Case-, width- and punctuation-insensitive form used to compare headers and coded values:
/// "PHQ-9", "phq_9" and "ＰＨＱ９" all fold to "phq9".
pub fn fold(s: &str) -> String {
    s.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter_map(|c| {
            let c = match c {
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            };
            (!matches!(
                c,
                ' ' | '-' | '_' | '\t' | '·' | '.' | '(' | ')' | '（' | '）'
            ))
            .then(|| c.to_ascii_lowercase())
        })
        .collect()
}

pub static STATUS: Vocabulary = Vocabulary {
    name: "status",
    codes: &[
        (
            "answered",
            &["接通", "已接通", "已接", "接听", "已接听", "应答"],
        ),
        (
            "abandoned",
            &["放弃", "未接", "未接通", "呼损", "挂断", "未应答", "missed"],
        ),
        ("transferred", &["转接", "已转接", "转移"]),
    ],
};

pub static RISK_LEVEL: Vocabulary = Vocabulary {
    name: "risk_level",
    codes: &[
        ("none", &["无", "无风险", "0"]),
        ("low", &["低", "低风险", "1"]),
        ("medium", &["中", "中风险", "中等", "2"]),
        ("high", &["高", "高风险", "3"]),
        (
            "imminent",
            &["极高", "极高风险", "紧急", "危急", "critical", "4"],
        ),
    ],
};

pub static CHANNEL: Vocabulary = Vocabulary {
    name: "channel",
    codes: &[
        ("wechat", &["微信", "微信公众号", "公众号", "weixin"]),
        ("app", &["客户端", "手机客户端", "APP", "小程序"]),
        ("email", &["邮箱", "电子邮件", "邮件", "e-mail"]),
        ("qq", &["QQ群", "QQ"]),
        ("web", &["网站留言", "网站", "留言板", "网页", "网上留言"]),
        ("weibo", &["微博"]),
        ("12345", &["12345热线", "市民热线", "政务热线"]),
        ("other", &["其他", "其它"]),
    ],
};

pub static GROUP: Vocabulary = Vocabulary {
    name: "caller_group",
    codes: &[
        ("patient", &["确诊患者", "患者", "确诊病例", "病人"]),
        ("suspected", &["疑似患者", "疑似病例"]),
        (
            "quarantined",
            &["隔离人员", "隔离者", "密接", "密切接触者", "居家隔离人员"],
        ),
        ("family", &["患者家属", "家属", "隔离人员家属"]),
        (
            "bereaved",
            &["病亡者家属", "逝者家属", "丧亲家属", "遇难者家属"],
        ),
        (
            "medical_staff",
            &["医务人员", "医护人员", "医生", "护士", "一线医务人员"],
        ),
        ("police", &["公安民警", "民警", "警察", "辅警"]),
        (
            "frontline_worker",
            &["一线工作人员", "社区工作者", "网格员", "志愿者", "防疫人员"],
        ),
        ("student", &["学生", "大学生", "中小学生"]),
        ("worker", &["职工", "企业职工", "务工人员", "工人"]),
        ("elderly", &["老年人", "老人", "空巢老人"]),
        ("child", &["儿童", "未成年人", "留守儿童"]),
        ("vulnerable", &["困难群体", "困难群众", "低保户"]),
        ("special_population", &["特殊人群", "特殊群体"]),
        ("public", &["社会公众", "公众", "市民", "居民", "群众"]),
        ("other", &["其他", "其它"]),
    ],
};

pub static INSTRUMENT: Vocabulary = Vocabulary {
    name: "instrument",
    codes: &[
        (
            "PHQ-9",
            &["患者健康问卷", "PHQ-9抑郁筛查量表", "抑郁症筛查量表"],
        ),
        (
            "GAD-7",
            &["广泛性焦虑量表", "广泛性焦虑障碍量表", "GAD-7焦虑量表"],
        ),
        (
            "ISI",
            &["失眠严重指数量表", "失眠严重程度指数", "失眠严重指数"],
        ),
        (
            "PCL-5",
            &["创伤后应激障碍检查量表", "PTSD检查量表", "PCL5", "PTSD"],
        ),
        ("SAS", &["焦虑自评量表"]),
        ("SDS", &["抑郁自评量表"]),
        ("other", &["其他", "其它"]),
    ],
};

/// The group codes with their Chinese names, for reports.
pub fn group_label(code: &str) -> &'static str {
    GROUP
        .codes
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, aliases)| aliases[0])
        .unwrap_or("未知")
}

use ColType::*;

pub static HOTLINE: &[Column] = &[
    col("call_id", &["来电编号", "通话编号", "呼叫编号"], Id, true),
    col("line", &["热线", "热线名称"], Label, true),
    col("provider", &["服务机构"], Label, false),
    col(
        "counselor_id",
        &["咨询师工号", "坐席工号"],
        Pseudonym("C-"),
        false,
    ),
    col("started_at", &["来电时间", "呼入时间"], Timestamp, true),
    col("answered_at", &["接听时间", "应答时间"], Timestamp, false),
    col("ended_at", &["结束时间", "挂机时间"], Timestamp, false),
    col("status", &["状态", "通话状态"], Code(&STATUS), false),
    col("caller_group", &["来电人群", "人群"], Code(&GROUP), false),
    col("region", &["区域", "地区", "乡镇"], Label, false),
    col("category", &["来电类别", "类别"], Label, false),
    col("risk_level", &["风险等级"], Code(&RISK_LEVEL), false),
    col("referral", &["转介"], Referral, false),
    col("follow_up_at", &["回访时间"], Timestamp, false),
    col("satisfaction", &["满意度"], Int { min: 1, max: 5 }, false),
    col(
        "distress_before",
        &["干预前痛苦评分"],
        Int { min: 0, max: 10 },
        false,
    ),
    col(
        "distress_after",
        &["干预后痛苦评分"],
        Int { min: 0, max: 10 },
        false,
    ),
    col("notes", &["通话摘要", "摘要", "通话记录"], Text, false),
];

pub static FEEDBACK: &[Column] = &[
    col("msg_id", &["留言编号", "编号"], Id, true),
    col("channel", &["渠道", "来源渠道"], Code(&CHANNEL), true),
    col("received_at", &["留言时间", "接收时间"], Timestamp, true),
    col("region", &["区域", "地区", "乡镇"], Label, false),
    col(
        "author",
        &["留言人", "作者", "昵称"],
        Pseudonym("A-"),
        false,
    ),
    col("caller_group", &["人群"], Code(&GROUP), false),
    col("text", &["留言内容", "内容", "正文"], Text, true),
    col("replied_at", &["回复时间"], Timestamp, false),
    col("handler", &["承办单位", "办理单位"], Label, false),
];

pub static SCREENING: &[Column] = &[
    col("period_start", &["开始日期"], Date, true),
    col("period_end", &["结束日期"], Date, true),
    col("region", &["区域", "地区", "乡镇"], Label, false),
    col("caller_group", &["人群"], Code(&GROUP), false),
    col("instrument", &["量表"], Code(&INSTRUMENT), true),
    col(
        "screened",
        &["筛查人数"],
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
    ),
    col(
        "positive",
        &["阳性人数"],
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
    ),
    col(
        "mild",
        &["轻度"],
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        false,
    ),
    col(
        "moderate",
        &["中度"],
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        false,
    ),
    col(
        "severe",
        &["重度"],
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        false,
    ),
    col("provider", &["筛查机构"], Label, false),
];

/// The text engine's columns on text-bearing rows, with their stored types.
pub const ENGINE_COLUMNS: [(&str, &str); 7] = [
    ("polarity", "VARCHAR"),
    ("sentiment_score", "DOUBLE"),
    ("emotion", "VARCHAR"),
    ("risk", "VARCHAR"),
    ("risk_terms", "VARCHAR[]"),
    ("topics", "VARCHAR[]"),
    ("scored_at", "TIMESTAMP"),
];

/// The canonical column a source header names, if any.
pub fn column_for_header(kind: Kind, header: &str) -> Option<usize> {
    let h = fold(header);
    if h.is_empty() {
        return None;
    }
    kind.columns()
        .iter()
        .position(|c| fold(c.name) == h || c.aliases.iter().any(|a| fold(a) == h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_codes_and_chinese_aliases() {
        assert_eq!(column_for_header(Kind::Hotline, "来电编号"), Some(0));
        assert_eq!(
            column_for_header(Kind::Hotline, "\u{feff}Call_ID "),
            Some(0)
        );
        assert_eq!(
            column_for_header(Kind::Feedback, "留言内容"),
            Kind::Feedback.column_index("text")
        );
        assert_eq!(column_for_header(Kind::Feedback, "无关列"), None);
    }

    #[test]
    fn vocabularies_fold_spelling_variants() {
        assert_eq!(INSTRUMENT.lookup("phq9"), Some("PHQ-9"));
        assert_eq!(INSTRUMENT.lookup("ＧＡＤ－７"), Some("GAD-7"));
        assert_eq!(STATUS.lookup("未接"), Some("abandoned"));
        assert_eq!(GROUP.lookup("医护人员"), Some("medical_staff"));
        assert_eq!(CHANNEL.lookup("QQ群"), Some("qq"));
        assert_eq!(RISK_LEVEL.lookup("极高"), Some("imminent"));
        assert_eq!(STATUS.lookup("处理中"), None);
        assert_eq!(group_label("bereaved"), "病亡者家属");
    }
}
