//! `xinqing synth`: realistic synthetic exports of all three kinds, deterministic by seed.
//!
//! A county of 18 towns in 3 areas; four hotlines served by four providers of different
//! quality; feedback from seven channels handled by six offices; weekly screening of the key
//! groups. A month has trends in it: one provider's answer rate slips, quarantined people's
//! anxiety rises week on week, complaints about supplies double in the second half. A small
//! share of texts carries crisis language, colloquial hyperbole that is not crisis, and
//! personal data (phone and ID numbers, addresses, plates, e-mails) that ingest must redact.
//!
//! Files are written as offices hand them over: hotline logs as GB18030 CSV with Chinese
//! headers, feedback as UTF-8 CSV with a BOM (each day's file also re-exports the previous
//! day's messages that were answered since), screening as UTF-8 CSV with English headers.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const AREAS: [(&str, [&str; 6]); 3] = [
    (
        "城区",
        [
            "城关街道",
            "文昌街道",
            "东湖街道",
            "西苑街道",
            "南门街道",
            "北关街道",
        ],
    ),
    (
        "东部片区",
        ["澉浦镇", "通元镇", "沈荡镇", "百步镇", "于城镇", "秦山街道"],
    ),
    (
        "西部片区",
        ["武原镇", "望海镇", "元通镇", "石泉镇", "新桥镇", "白龙镇"],
    ),
];

/// Hotline, the providers that staff it, and each provider's quality: answer rate, mean
/// seconds to answer, and how much the answer rate slips by the end of the month.
struct Provider {
    name: &'static str,
    answer_rate: f64,
    mean_wait_s: f64,
    slip: f64,
    counselors: u32,
}

const PROVIDERS: [Provider; 4] = [
    Provider {
        name: "县人民医院心理科",
        answer_rate: 0.95,
        mean_wait_s: 14.0,
        slip: 0.0,
        counselors: 8,
    },
    Provider {
        name: "心悦心理咨询服务中心",
        answer_rate: 0.90,
        mean_wait_s: 25.0,
        slip: 0.02,
        counselors: 6,
    },
    Provider {
        name: "县心理健康协会",
        answer_rate: 0.86,
        mean_wait_s: 40.0,
        slip: 0.20,
        counselors: 5,
    },
    Provider {
        name: "县教育局心理辅导中心",
        answer_rate: 0.92,
        mean_wait_s: 20.0,
        slip: 0.0,
        counselors: 8,
    },
];

/// Each hotline with the indexes of the providers that answer it.
const LINES: [(&str, &[usize]); 4] = [
    ("96345心理咨询热线", &[0, 1, 2]),
    ("县心理援助热线", &[0, 2]),
    ("12355青少年服务台", &[3]),
    ("12320卫生热线", &[0, 1]),
];

const GROUPS: [(&str, u32); 15] = [
    ("社会公众", 28),
    ("隔离人员", 14),
    ("患者家属", 7),
    ("医务人员", 8),
    ("学生", 10),
    ("职工", 8),
    ("老年人", 6),
    ("确诊患者", 5),
    ("公安民警", 2),
    ("一线工作人员", 5),
    ("病亡者家属", 1),
    ("疑似患者", 2),
    ("儿童", 1),
    ("困难群体", 2),
    ("特殊人群", 1),
];

const CHANNELS: [(&str, u32); 7] = [
    ("微信", 35),
    ("客户端", 15),
    ("网站留言", 15),
    ("12345", 15),
    ("微博", 10),
    ("QQ群", 5),
    ("邮箱", 5),
];

const HANDLERS: [(&str, f64); 6] = [
    // Office and its mean reply delay in hours.
    ("县卫健局", 8.0),
    ("县民政局", 14.0),
    ("县教育局", 10.0),
    ("县市场监管局", 20.0),
    ("镇街道办", 16.0),
    ("县疾控中心", 6.0),
];

/// Feedback templates: topic, whether it is a complaint (negative), and the text.
/// Slots: {town} {item} {days} {place} {who} {time}.
const FEEDBACK: &[(&str, i8, &str)] = &[
    (
        "supplies",
        -1,
        "{town}这边{item}已经断货{days}天了，药店也买不到，希望政府尽快协调。",
    ),
    (
        "supplies",
        -1,
        "小区团购的菜三天都没送到，家里老人小孩快没吃的了，谁来管管？",
    ),
    (
        "supplies",
        -1,
        "{item}价格涨了好几倍，有没有人查一查哄抬物价的？太气人了！",
    ),
    (
        "supplies",
        1,
        "社区送来的{item}收到了，分装得很仔细，感谢{town}的志愿者们[心]",
    ),
    (
        "supplies",
        0,
        "请问{town}的{item}发放点在哪里，几点开始发？",
    ),
    (
        "quarantine",
        -1,
        "居家隔离第{days}天了，一直没人上门测体温，也没人告诉我什么时候能解除。",
    ),
    (
        "quarantine",
        -1,
        "集中隔离点的饭菜是冷的，房间也没有热水，隔离人员也是人啊！",
    ),
    (
        "quarantine",
        1,
        "在{place}隔离的这{days}天，工作人员每天问候，心里暖暖的，谢谢你们。",
    ),
    (
        "quarantine",
        0,
        "密接的家属需要隔离吗？隔离期是{days}天还是十四天？",
    ),
    (
        "quarantine",
        -1,
        "封控这么久了，什么时候能解封？孩子天天在家闹，我快崩溃了。",
    ),
    (
        "testing",
        -1,
        "{town}核酸检测点排了{days}个小时的队，没有遮阳棚，老人都站不住了。",
    ),
    ("testing", 0, "核酸报告什么时候能出来？在哪里查询结果？"),
    ("testing", 1, "今天做核酸秩序很好，医护人员辛苦了，点赞！"),
    (
        "testing",
        -1,
        "核酸结果三天了还查不到，耽误了上班，到底怎么回事？",
    ),
    (
        "movement",
        -1,
        "通行证办了一个星期还没批下来，要去医院复查都出不了门。",
    ),
    (
        "movement",
        0,
        "外地返乡人员需要提供什么证明？到{town}要不要隔离？",
    ),
    (
        "movement",
        -1,
        "{town}卡口不让救护车以外的车辆通行，送药的车也进不来，太死板了。",
    ),
    (
        "medical",
        -1,
        "家里老人有慢性病，医院门诊停了，药快吃完了，急死人了！",
    ),
    (
        "medical",
        -1,
        "发烧了不敢去医院，怕被隔离，又怕耽误病情，很害怕。",
    ),
    (
        "medical",
        1,
        "{place}的医生半夜还在接诊，态度特别好，谢谢白衣天使！",
    ),
    ("medical", 0, "请问发热门诊在哪里？需要预约吗？"),
    (
        "work",
        -1,
        "停工两个月了，房贷还要还，一分钱收入都没有，不知道怎么熬下去。",
    ),
    (
        "work",
        -1,
        "公司说复工要自己承担核酸费用，工资还打折，这合理吗？",
    ),
    ("work", 0, "小微企业的复工补贴怎么申请？需要哪些材料？"),
    (
        "work",
        1,
        "社区帮我们联系了复工包车，终于能回厂上班了，开心！",
    ),
    (
        "school",
        -1,
        "孩子上网课一天对着屏幕八个小时，眼睛都不行了，作业还特别多。",
    ),
    ("school", 0, "开学时间定了吗？学生返校需要做核酸吗？"),
    (
        "school",
        -1,
        "孩子在家不愿意学习，说想同学，天天哭，家长也很焦虑。",
    ),
    (
        "school",
        1,
        "学校的心理老师每周打电话关心孩子，孩子情绪好多了，谢谢老师。",
    ),
    (
        "family",
        -1,
        "父亲在医院走了，最后一面都没见到，到现在我也接受不了。",
    ),
    (
        "family",
        -1,
        "丈夫在方舱，我一个人带两个孩子，婆婆也病了，一个人实在忙不过来。",
    ),
    (
        "family",
        1,
        "一家人隔离在家反而多了陪伴，和孩子一起做饭，挺温馨的。",
    ),
    (
        "mental",
        -1,
        "每天刷新闻刷到凌晨，越看越害怕，整夜失眠，心慌得厉害。",
    ),
    (
        "mental",
        -1,
        "最近总是莫名烦躁，对家人发脾气，感觉自己快抑郁了。",
    ),
    (
        "mental",
        -1,
        "一个人在出租屋隔离，没人说话，感觉特别孤独，很压抑。",
    ),
    (
        "mental",
        1,
        "打了心理热线，咨询师很耐心，聊完心里轻松多了，谢谢。",
    ),
    ("mental", 0, "有没有免费的心理咨询？晚上能打吗？"),
    (
        "rumour",
        -1,
        "网上说{town}出现了大规模感染，是真的吗？大家都很恐慌。",
    ),
    ("rumour", 0, "听说喝板蓝根能预防，有科学依据吗？"),
    (
        "rumour",
        -1,
        "群里传{place}要全员隔离，到底有没有这回事？官方能不能辟谣？",
    ),
    ("service", -1, "打了三次心理热线都没人接，说好的24小时呢？"),
    (
        "service",
        -1,
        "在公众号留言一周了没有任何回复，留言板就是摆设吗？",
    ),
    (
        "service",
        1,
        "12345回复很及时，问题当天就解决了，给工作人员点赞。",
    ),
    (
        "service",
        -1,
        "热线接线员态度很差，没说两句就挂了，很失望。",
    ),
    ("service", 0, "心理援助热线的号码是多少？"),
    (
        "praise",
        1,
        "感谢所有坚守在一线的医护人员和民警，你们辛苦了！加油！",
    ),
    (
        "praise",
        1,
        "{town}的网格员挨家挨户排查，风雨无阻，真的很感动。",
    ),
    (
        "praise",
        1,
        "疫情终会过去，春暖花开的时候我们一起去看樱花[哈哈]",
    ),
    // Hyperbole and news about others: not crisis.
    ("mental", -1, "天天加班核对名单，累死了，但还得坚持。"),
    ("praise", 1, "社区大妈的防疫顺口溜笑死我了哈哈哈"),
    (
        "rumour",
        0,
        "新闻说国外某地发生自杀式袭击，大家出门注意安全。",
    ),
];

/// Crisis texts: tier and text. Recall on these is what the text engine is judged by.
const CRISIS: &[(&str, &str)] = &[
    (
        "imminent",
        "药已经攒够了，今晚等家人睡着就吃下去，不想再拖累任何人。",
    ),
    (
        "imminent",
        "我现在站在{place}楼顶，风很大，跳下去就解脱了。",
    ),
    (
        "imminent",
        "遗书写好了，明天早上就去江边，谢谢这些天照顾我的人。",
    ),
    ("ideation", "活着太累了，真的不想活了，每天都在想怎么死。"),
    (
        "ideation",
        "感觉自己是个累赘，要是我不在了，家里人会不会轻松一点。",
    ),
    (
        "ideation",
        "隔离了{days}天，失业又欠债，觉得人生没有任何希望，想一了百了。",
    ),
    (
        "self_harm",
        "忍不住又用刀片划了手腕，只有疼的时候才觉得自己还活着。",
    ),
    (
        "self_harm",
        "昨晚又割伤了自己，手臂上都是疤，不敢让家人知道。",
    ),
    (
        "harm_others",
        "再不让我出去，我就拿刀去找那个网格员，大家同归于尽。",
    ),
    ("harm_others", "邻居天天举报我家，迟早弄死他们全家。"),
];

const ITEMS: [&str; 8] = [
    "口罩",
    "酒精",
    "消毒液",
    "体温计",
    "蔬菜",
    "大米",
    "奶粉",
    "降压药",
];
const PLACES: [&str; 8] = [
    "县人民医院",
    "方舱医院",
    "隔离酒店",
    "中医院",
    "体育馆",
    "社区卫生服务中心",
    "火车站",
    "老城区",
];

/// Hotline note templates by category; risk notes are separate.
const NOTES: &[(&str, &str)] = &[
    (
        "情绪疏导",
        "来电者{who}，隔离第{days}天，自述焦虑紧张、坐立不安，给予情绪疏导和放松训练指导。",
    ),
    (
        "情绪疏导",
        "来电者{who}，因担心家人感染而哭泣，情绪低落，倾听陪伴后情绪稍平稳。",
    ),
    (
        "失眠困扰",
        "来电者{who}，近一周入睡困难，每晚只睡三四个小时，给予睡眠卫生指导。",
    ),
    (
        "失眠困扰",
        "来电者{who}，夜间反复惊醒、做噩梦，白天疲惫，建议规律作息并预约复访。",
    ),
    (
        "疫情咨询",
        "来电者{who}，咨询核酸检测和隔离政策，情绪尚稳定，已告知官方渠道。",
    ),
    (
        "生活求助",
        "来电者{who}，家中{item}短缺，情绪烦躁，已联系社区协助解决。",
    ),
    (
        "家庭关系",
        "来电者{who}，居家期间与家人争吵频繁，感到压抑，给予沟通技巧建议。",
    ),
    (
        "学业压力",
        "来电学生，网课跟不上，担心考试，情绪低落，给予学习规划和情绪支持。",
    ),
    (
        "哀伤辅导",
        "来电者为病亡者家属，无法接受亲人离世，自责未能见最后一面，给予哀伤辅导。",
    ),
    (
        "职业倦怠",
        "来电者为一线医务人员，连续值班{days}天，身心疲惫，给予减压指导。",
    ),
    (
        "政策咨询",
        "来电者{who}，询问复工复学安排，无明显心理困扰，已解答。",
    ),
];

const RISK_NOTES: &[(&str, &str)] = &[
    (
        "极高",
        "来电者称已准备好药物，打算今晚结束生命，已启动危机干预并通知家属和派出所。",
    ),
    (
        "极高",
        "来电者在{place}天台，表示马上要跳下去，持续通话稳定情绪，同时报警。",
    ),
    (
        "高",
        "来电者反复表达不想活了，有自杀想法但无具体计划，已转介精神卫生中心。",
    ),
    (
        "高",
        "来电者承认近期有割腕自伤行为，情绪崩溃，已评估风险并安排回访。",
    ),
    (
        "高",
        "来电者扬言要报复隔离点工作人员，情绪激动，已报告并联系社区。",
    ),
    (
        "中",
        "来电者情绪持续低落，偶有轻生念头一闪而过，否认计划，约定次日回访。",
    ),
];

/// Personal data planted in some texts; ingest must remove all of it.
const PII: &[&str] = &[
    "我的电话是13{d9}，请回电。",
    "联系方式：+86 139 {d4} {d4}",
    "身份证号{id}，帮我查一下健康码。",
    "我住在幸福小区{n}栋{n}单元{n}0{n}室。",
    "车牌浙F{d5}，卡口不让过。",
    "材料发到zhang{n}{n}@example.com。",
    "座机0573-8{d3}{d4}，白天有人。",
    "我叫李秀英，家住{town}。",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindsToWrite {
    pub hotline: bool,
    pub feedback: bool,
    pub screening: bool,
}

impl Default for KindsToWrite {
    fn default() -> Self {
        KindsToWrite {
            hotline: true,
            feedback: true,
            screening: true,
        }
    }
}

pub struct SynthOptions {
    pub days: u32,
    pub per_day: u32,
    pub seed: u64,
    pub start: NaiveDate,
    pub out: PathBuf,
    pub kinds: KindsToWrite,
}

#[derive(Debug, Default)]
pub struct SynthSummary {
    pub hotline_files: Vec<PathBuf>,
    pub feedback_files: Vec<PathBuf>,
    pub screening_files: Vec<PathBuf>,
    pub hotline_rows: u64,
    pub feedback_rows: u64,
    pub screening_rows: u64,
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].0
}

fn towns() -> Vec<&'static str> {
    AREAS.iter().flat_map(|(_, t)| t.iter().copied()).collect()
}

fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn fill(template: &str, rng: &mut ChaCha8Rng, town: &str) -> String {
    let mut s = template.to_string();
    let group = *weighted(rng, &GROUPS);
    let replacements: [(&str, String); 12] = [
        ("{town}", town.to_string()),
        ("{item}", ITEMS.choose(rng).expect("items").to_string()),
        ("{place}", PLACES.choose(rng).expect("places").to_string()),
        ("{days}", rng.random_range(3..29).to_string()),
        ("{who}", format!("为{group}")),
        ("{time}", format!("{}点", rng.random_range(6..23))),
        ("{d9}", digits(rng, 9)),
        ("{d5}", digits(rng, 5)),
        ("{d3}", digits(rng, 3)),
        (
            "{id}",
            format!(
                "330424{}{:02}{:02}{}",
                rng.random_range(1950..2010),
                rng.random_range(1..13),
                rng.random_range(1..29),
                digits(rng, 4)
            ),
        ),
        ("{n}", rng.random_range(1..10).to_string()),
        ("{d4}", digits(rng, 4)),
    ];
    for (slot, value) in replacements {
        while let Some(pos) = s.find(slot) {
            s.replace_range(pos..pos + slot.len(), &value);
        }
    }
    s
}

/// A time of day for a call: busy mornings, afternoons and late evenings, a thin night.
fn call_time(rng: &mut ChaCha8Rng) -> NaiveTime {
    const HOURS: [(u32, u32); 24] = [
        (0, 3),
        (1, 2),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 2),
        (7, 4),
        (8, 7),
        (9, 9),
        (10, 9),
        (11, 7),
        (12, 5),
        (13, 6),
        (14, 8),
        (15, 8),
        (16, 7),
        (17, 5),
        (18, 5),
        (19, 6),
        (20, 8),
        (21, 9),
        (22, 8),
        (23, 5),
    ];
    let hour = *weighted(rng, &HOURS);
    NaiveTime::from_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
        .expect("valid time")
}

fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn generate(opts: &SynthOptions) -> Result<SynthSummary> {
    let mut summary = SynthSummary::default();
    let towns = towns();
    if opts.kinds.hotline {
        let dir = opts.out.join("hotline");
        std::fs::create_dir_all(&dir)?;
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x486f_746c);
        let mut serial = 0u64;
        for d in 0..opts.days {
            let date = opts.start + Duration::days(d as i64);
            let path = dir.join(format!("hotline-{date}.csv"));
            let n = (opts.per_day / 2).max(1);
            serial += write_hotline_day(&path, &mut rng, date, d, opts.days, n, serial, &towns)?;
            summary.hotline_rows += n as u64;
            summary.hotline_files.push(path);
        }
    }
    if opts.kinds.feedback {
        let dir = opts.out.join("feedback");
        std::fs::create_dir_all(&dir)?;
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x4665_6564);
        // Messages of the previous day answered on this day, re-exported with replied_at.
        let mut carried: Vec<Vec<String>> = Vec::new();
        let mut serial = 0u64;
        for d in 0..opts.days {
            let date = opts.start + Duration::days(d as i64);
            let path = dir.join(format!("feedback-{date}.csv"));
            let (rows, next_carried) = write_feedback_day(
                &path,
                &mut rng,
                date,
                d,
                opts.days,
                opts.per_day,
                &mut serial,
                &towns,
                &carried,
            )?;
            carried = next_carried;
            summary.feedback_rows += rows;
            summary.feedback_files.push(path);
        }
    }
    if opts.kinds.screening {
        let dir = opts.out.join("screening");
        std::fs::create_dir_all(&dir)?;
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5363_726e);
        let weeks = opts.days.div_ceil(7);
        for w in 0..weeks {
            let start = opts.start + Duration::days(w as i64 * 7);
            let end =
                (start + Duration::days(6)).min(opts.start + Duration::days(opts.days as i64 - 1));
            let path = dir.join(format!("screening-{start}.csv"));
            summary.screening_rows += write_screening_week(&path, &mut rng, start, end, w, &towns)?;
            summary.screening_files.push(path);
        }
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn write_hotline_day(
    path: &Path,
    rng: &mut ChaCha8Rng,
    date: NaiveDate,
    day: u32,
    days: u32,
    calls: u32,
    serial_start: u64,
    towns: &[&str],
) -> Result<u64> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let headers = [
        "来电编号",
        "热线",
        "服务机构",
        "咨询师工号",
        "来电时间",
        "接听时间",
        "结束时间",
        "状态",
        "来电人群",
        "区域",
        "来电类别",
        "风险等级",
        "转介",
        "回访时间",
        "满意度",
        "干预前痛苦评分",
        "干预后痛苦评分",
        "通话摘要",
    ];
    write_gb_record(&mut out, headers.iter().map(|s| s.to_string()))?;
    let progress = day as f64 / days.max(1) as f64;
    for i in 0..calls as u64 {
        let (line, providers) = LINES.choose(rng).expect("lines");
        let p_index = *providers.choose(rng).expect("providers");
        let provider = &PROVIDERS[p_index];
        let started = date.and_time(call_time(rng));
        let answer_rate = provider.answer_rate - provider.slip * progress;
        let roll: f64 = rng.random();
        let status = if roll < answer_rate {
            "接通"
        } else if roll < answer_rate + 0.02 {
            "转接"
        } else {
            "放弃"
        };
        let group = *weighted(rng, &GROUPS);
        let town = *towns.choose(rng).expect("towns");
        let mut row = vec![String::new(); headers.len()];
        row[0] = format!("HL{}-{:06}", date.format("%Y%m%d"), serial_start + i + 1);
        row[1] = line.to_string();
        row[2] = provider.name.to_string();
        row[4] = fmt(started);
        row[7] = status.to_string();
        row[8] = group.to_string();
        row[9] = town.to_string();
        let wait = (-provider.mean_wait_s * (1.0 - rng.random::<f64>()).ln()).min(600.0);
        if status != "放弃" {
            let answered = started + Duration::seconds(wait as i64 + 3);
            let handle = 120.0 + (-600.0 * (1.0 - rng.random::<f64>()).ln()).min(4800.0);
            row[3] = format!(
                "ZX{:02}{:02}",
                p_index + 1,
                rng.random_range(1..=provider.counselors)
            );
            row[5] = fmt(answered);
            row[6] = fmt(answered + Duration::seconds(handle as i64));
            let risk_roll: f64 = rng.random();
            let (category, risk, note) = if risk_roll < 0.015 {
                let (risk, t) = RISK_NOTES.choose(rng).expect("risk notes");
                ("危机干预", *risk, fill(t, rng, town))
            } else {
                let (category, t) = NOTES.choose(rng).expect("notes");
                let risk = if risk_roll < 0.05 { "低" } else { "无" };
                (*category, risk, fill(t, rng, town))
            };
            let mut note = note;
            if rng.random::<f64>() < 0.04 {
                let pii = PII.choose(rng).expect("pii");
                note.push_str(&fill(pii, rng, town));
            }
            row[10] = category.to_string();
            row[11] = risk.to_string();
            if matches!(risk, "极高" | "高") {
                row[12] = "转介至县精神卫生中心".into();
                row[13] = fmt(started + Duration::hours(rng.random_range(4..48)));
            } else if matches!(risk, "中") {
                row[12] = "否".into();
                row[13] = fmt(started + Duration::hours(rng.random_range(12..72)));
            } else {
                row[12] = if rng.random::<f64>() < 0.03 {
                    "是"
                } else {
                    "否"
                }
                .into();
            }
            if rng.random::<f64>() < 0.7 {
                row[14] = rng.random_range(3..=5).to_string();
            }
            let before = rng.random_range(3..=9);
            row[15] = before.to_string();
            row[16] = (before - rng.random_range(0..=3).min(before)).to_string();
            row[17] = note;
        }
        write_gb_record(&mut out, row.into_iter())?;
    }
    out.flush()?;
    Ok(calls as u64)
}

/// One CSV record, encoded as GB18030 as Chinese call-centre systems export it.
fn write_gb_record(out: &mut impl Write, fields: impl Iterator<Item = String>) -> Result<()> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(256));
    w.write_record(fields)?;
    let utf8 = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = String::from_utf8(utf8).expect("csv writes what it was given");
    let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
    out.write_all(&bytes)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_feedback_day(
    path: &Path,
    rng: &mut ChaCha8Rng,
    date: NaiveDate,
    day: u32,
    days: u32,
    messages: u32,
    serial: &mut u64,
    towns: &[&str],
    carried: &[Vec<String>],
) -> Result<(u64, Vec<Vec<String>>)> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&[0xef, 0xbb, 0xbf])?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "留言编号",
        "渠道",
        "留言时间",
        "区域",
        "留言人",
        "人群",
        "留言内容",
        "回复时间",
        "承办单位",
    ])?;
    let mut rows = 0u64;
    for r in carried {
        w.write_record(r)?;
        rows += 1;
    }
    let second_half = day * 2 >= days;
    let day_end = (date + Duration::days(1)).and_time(NaiveTime::MIN);
    let mut next_carried = Vec::new();
    for _ in 0..messages {
        *serial += 1;
        let town = *towns.choose(rng).expect("towns");
        let channel = *weighted(rng, &CHANNELS);
        let received = date.and_time(call_time(rng));
        let roll: f64 = rng.random();
        let mut text = if roll < 0.006 {
            fill(CRISIS.choose(rng).expect("crisis").1, rng, town)
        } else {
            // Complaints about supplies double in the second half of the month.
            let mut pick = FEEDBACK.choose(rng).expect("templates");
            if second_half && pick.0 != "supplies" && rng.random::<f64>() < 0.06 {
                let supplies: Vec<_> = FEEDBACK
                    .iter()
                    .filter(|t| t.0 == "supplies" && t.1 < 0)
                    .collect();
                pick = *supplies.choose(rng).expect("supply templates");
            }
            fill(pick.2, rng, town)
        };
        if rng.random::<f64>() < 0.03 {
            text.push_str(&fill(PII.choose(rng).expect("pii"), rng, town));
        }
        let author = if rng.random::<f64>() < 0.15 {
            format!(
                "{}{}",
                ["张", "王", "李", "赵", "陈", "刘"].choose(rng).expect("x"),
                ["伟", "芳", "娜", "敏", "静", "强"].choose(rng).expect("x")
            )
        } else {
            format!("用户{}", digits(rng, 6))
        };
        let group = if rng.random::<f64>() < 0.6 {
            weighted(rng, &GROUPS).to_string()
        } else {
            String::new()
        };
        let (handler, mean_delay) = HANDLERS.choose(rng).expect("handlers");
        let delay_h = -mean_delay * (1.0 - rng.random::<f64>()).ln();
        let replied = (rng.random::<f64>() < 0.93)
            .then(|| received + Duration::minutes((delay_h * 60.0) as i64 + 5));
        let mut row = vec![
            format!("FB{}-{:07}", date.format("%Y%m%d"), serial),
            channel.to_string(),
            fmt(received),
            town.to_string(),
            author,
            group,
            text,
            String::new(),
            handler.to_string(),
        ];
        match replied {
            Some(t) if t < day_end => row[7] = fmt(t),
            Some(t) if t < day_end + Duration::days(1) => {
                let mut later = row.clone();
                later[7] = fmt(t);
                next_carried.push(later);
            }
            _ => {}
        }
        w.write_record(&row)?;
        rows += 1;
    }
    w.flush()?;
    Ok((rows, next_carried))
}

fn write_screening_week(
    path: &Path,
    rng: &mut ChaCha8Rng,
    start: NaiveDate,
    end: NaiveDate,
    week: u32,
    towns: &[&str],
) -> Result<u64> {
    // Group, base positive rate per instrument (PHQ-9, GAD-7, ISI), weekly drift, provider.
    const SCREENED: [(&str, [f64; 3], f64, &str); 7] = [
        ("quarantined", [0.18, 0.24, 0.20], 0.035, "县疾控中心"),
        ("medical_staff", [0.20, 0.22, 0.30], 0.0, "县人民医院心理科"),
        ("patient", [0.28, 0.30, 0.32], -0.01, "县人民医院心理科"),
        ("student", [0.12, 0.14, 0.10], 0.0, "县教育局心理辅导中心"),
        ("elderly", [0.15, 0.11, 0.18], 0.0, "县疾控中心"),
        ("public", [0.09, 0.10, 0.08], 0.0, "县疾控中心"),
        ("bereaved", [0.35, 0.30, 0.33], 0.0, "县人民医院心理科"),
    ];
    let mut w = csv::Writer::from_path(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    w.write_record([
        "period_start",
        "period_end",
        "region",
        "caller_group",
        "instrument",
        "screened",
        "positive",
        "mild",
        "moderate",
        "severe",
        "provider",
    ])?;
    let mut rows = 0;
    for town in towns {
        for (group, rates, drift, provider) in SCREENED {
            for (i, instrument) in ["PHQ-9", "GAD-7", "ISI"].iter().enumerate() {
                let screened: u32 = match group {
                    // Small groups give the small cells that reports must suppress.
                    "bereaved" => rng.random_range(1..8),
                    "patient" => rng.random_range(5..30),
                    _ => rng.random_range(30..200),
                };
                let rate = (rates[i] + drift * week as f64 * if i == 1 { 1.0 } else { 0.4 })
                    .clamp(0.01, 0.95);
                let positive = (0..screened).filter(|_| rng.random::<f64>() < rate).count() as u32;
                let severe = (0..positive).filter(|_| rng.random::<f64>() < 0.12).count() as u32;
                let moderate = (0..positive - severe)
                    .filter(|_| rng.random::<f64>() < 0.35)
                    .count() as u32;
                let mild = positive - severe - moderate;
                w.write_record([
                    start.to_string(),
                    end.to_string(),
                    town.to_string(),
                    group.to_string(),
                    instrument.to_string(),
                    screened.to_string(),
                    positive.to_string(),
                    mild.to_string(),
                    moderate.to_string(),
                    severe.to_string(),
                    provider.to_string(),
                ])?;
                rows += 1;
            }
        }
    }
    w.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    /// Every synthetic text the demo can write, filled a few times over: the ordinary ones must
    /// raise no crisis tier and the crisis ones must. A false alarm in everyday complaints
    /// ("太死板了") was found this way.
    #[test]
    fn the_engine_flags_exactly_the_crisis_templates() {
        let engine = crate::engine::Engine::embedded().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for round in 0..4 {
            let town = AREAS[round % 3].1[round];
            for (_, _, template) in FEEDBACK {
                let text = fill(template, &mut rng, town);
                assert_eq!(engine.analyze(&text).risk.name(), "none", "{text}");
            }
            for (_, template) in NOTES {
                let text = fill(template, &mut rng, town);
                assert_eq!(engine.analyze(&text).risk.name(), "none", "{text}");
            }
            for (_, template) in CRISIS.iter().chain(RISK_NOTES) {
                let text = fill(template, &mut rng, town);
                assert_ne!(engine.analyze(&text).risk.name(), "none", "{text}");
            }
        }
    }

    use super::*;

    #[test]
    fn same_seed_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |sub: &str, seed| SynthOptions {
            days: 3,
            per_day: 40,
            seed,
            start: NaiveDate::from_ymd_opt(2020, 2, 1).unwrap(),
            out: dir.path().join(sub),
            kinds: KindsToWrite::default(),
        };
        let a = generate(&mk("a", 7)).unwrap();
        let b = generate(&mk("b", 7)).unwrap();
        let c = generate(&mk("c", 8)).unwrap();
        let read = |p: &PathBuf| std::fs::read(p).unwrap();
        assert_eq!(read(&a.feedback_files[2]), read(&b.feedback_files[2]));
        assert_eq!(read(&a.hotline_files[1]), read(&b.hotline_files[1]));
        assert_ne!(read(&a.feedback_files[2]), read(&c.feedback_files[2]));
        assert_eq!(a.hotline_rows, 60);
        assert!(a.feedback_rows >= 120);
        assert_eq!(a.screening_rows, 18 * 7 * 3);
    }
}
