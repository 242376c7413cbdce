//! 工作建议: recommendations derived from the bulletin's own figures, each with the evidence
//! that triggered it, so a reader can check the reasoning against the tables above it.

use crate::analytics::{Advice, Bulletin, Fig, KpiRow};

/// A provider's answer rate this far below the rest, on enough calls, is flagged.
const ANSWER_RATE_GAP: f64 = 0.10;
const MIN_CALLS_FOR_COMPARISON: i64 = 20;
/// A topic needs this many texts on the day before a doubling means anything.
const MIN_TOPIC_TEXTS: i64 = 10;
const REPLY_TARGET: f64 = 0.90;
const AFTER_HOURS_TARGET: f64 = 0.90;

fn pct(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

fn figs(history: &[Fig]) -> String {
    history
        .iter()
        .map(|f| match f {
            Fig::V(v) => pct(*v),
            Fig::Suppressed => "<5".into(),
            Fig::Na => "—".into(),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

pub fn recommend(b: &Bulletin) -> Vec<Advice> {
    let mut out = Vec::new();

    if b.crisis.total > 0 {
        let open = b
            .crisis
            .items
            .iter()
            .filter(|i| i.status.contains('待') || i.status.contains('未'))
            .count();
        let tiers: Vec<String> = b
            .crisis
            .tiers
            .iter()
            .filter(|t| t.n != crate::analytics::Cell::N(0))
            .map(|t| {
                format!(
                    "{} {}",
                    t.label,
                    match t.n {
                        crate::analytics::Cell::N(n) => n.to_string(),
                        crate::analytics::Cell::Suppressed => "<5".into(),
                    }
                )
            })
            .collect();
        out.push(Advice {
            topic: "高危预警",
            action: format!(
                "对第四部分所列{}条高危线索逐条核实，按编号联系当事人并落实转介与回访；其中{}条尚未闭环。",
                b.crisis.total, open
            ),
            evidence: format!("当日识别高危线索{}条（{}）。", b.crisis.total, tiers.join("，")),
        });
    }

    // A group whose positive rate rose period on period three times running.
    for p in &b.groups.rows {
        let values: Vec<f64> = p.history.iter().filter_map(|f| f.value()).collect();
        if values.len() == p.history.len()
            && values.len() >= 4
            && values.windows(2).all(|w| w[1] > w[0])
        {
            out.push(Advice {
                topic: "重点人群",
                action: format!(
                    "将{}列为优先干预对象：加密{}复筛，安排心理危机干预队伍主动随访。",
                    p.label, p.instrument
                ),
                evidence: format!(
                    "{}{}阳性率连续三期上升：{}。",
                    p.label,
                    p.instrument,
                    figs(&p.history)
                ),
            });
        }
    }

    // A provider (or line) answering clearly fewer calls than the others.
    let lagging = |rows: &[KpiRow], what: &str, out: &mut Vec<Advice>| {
        for r in rows {
            let (Some(rate), Some(offered)) = (r.kpi.answer_rate.value(), r.kpi.offered.value())
            else {
                continue;
            };
            if offered < MIN_CALLS_FOR_COMPARISON {
                continue;
            }
            let others: (i64, i64) = rows
                .iter()
                .filter(|o| o.key != r.key)
                .filter_map(|o| Some((o.kpi.offered.value()?, o.kpi.answered.value()?)))
                .fold((0, 0), |acc, (n, a)| (acc.0 + n, acc.1 + a));
            if others.0 < MIN_CALLS_FOR_COMPARISON {
                continue;
            }
            let others_rate = others.1 as f64 / others.0 as f64;
            if rate < others_rate - ANSWER_RATE_GAP {
                let week = match r.answer_rate_7d {
                    Fig::V(v) => format!("，近7日{}", pct(v)),
                    _ => String::new(),
                };
                out.push(Advice {
                    topic: "热线服务",
                    action: format!(
                        "督促{what}“{}”排查坐席排班与设备，增加高峰时段值守，接通率限期恢复到其他{what}水平。",
                        r.key
                    ),
                    evidence: format!(
                        "当日接通率{}（{}通来电{}），其他{what}合计{}。",
                        pct(rate),
                        offered,
                        week,
                        pct(others_rate)
                    ),
                });
            }
        }
    };
    lagging(&b.hotline.by_provider, "服务机构", &mut out);
    if b.hotline.by_provider.len() <= 1 {
        lagging(&b.hotline.by_line, "热线", &mut out);
    }

    if let (Some(c), Some(n)) = (
        b.hotline.total.after_hours_coverage.value(),
        b.hotline.total.after_hours_offered.value(),
    ) {
        if c < AFTER_HOURS_TARGET && n >= MIN_CALLS_FOR_COMPARISON {
            out.push(Advice {
                topic: "热线服务",
                action: "加强夜间及周末值守力量，确保24小时热线非工作时段来电有人接听。".into(),
                evidence: format!(
                    "非工作时段（{}）来电{}通，接通{}，低于{}。",
                    b.hotline.after_hours_definition,
                    n,
                    pct(c),
                    pct(AFTER_HOURS_TARGET)
                ),
            });
        }
    }

    // A topic whose negative share doubled against the week before.
    for t in &b.topics.rows {
        let (Some(now), Some(before), Some(n)) = (
            t.negative_share.value(),
            t.negative_share_7d.value(),
            t.n.value(),
        ) else {
            continue;
        };
        if n >= MIN_TOPIC_TEXTS && before > 0.0 && now >= 2.0 * before && now >= 0.2 {
            out.push(Advice {
                topic: "热点话题",
                action: format!(
                    "关注“{}”相关诉求，请责任部门核查并通过官方渠道及时回应、解疑释惑。",
                    t.name
                ),
                evidence: format!(
                    "“{}”当日{}条，负面占比{}，为前7日（{}）的{:.1}倍。",
                    t.name,
                    n,
                    pct(now),
                    pct(before),
                    now / before
                ),
            });
        }
    }

    if let (Some(now), Some(before)) = (
        b.sentiment
            .polarity
            .iter()
            .find(|p| p.key == "negative")
            .and_then(|p| p.share.value()),
        b.sentiment.negative_share_7d.value(),
    ) {
        if now >= before + 0.10 {
            out.push(Advice {
                topic: "情绪分析",
                action: "负面情绪明显上升：加大心理健康科普和正面信息发布力度，热线增加坐席。"
                    .into(),
                evidence: format!("当日负面占比{}，前7日为{}。", pct(now), pct(before)),
            });
        }
    }

    let r = &b.replies;
    let share = r.total.share_within_24h.value();
    if r.overdue_total > 0 || share.is_some_and(|s| s < REPLY_TARGET) {
        // The three handlers furthest below the target.
        let mut behind: Vec<(&str, f64)> = r
            .by_handler
            .iter()
            .filter_map(|h| Some((h.label.as_str(), h.share_within_24h.value()?)))
            .filter(|(_, s)| *s < REPLY_TARGET)
            .collect();
        behind.sort_by(|a, b| a.1.total_cmp(&b.1));
        let worst: Vec<String> = behind
            .iter()
            .take(3)
            .map(|(label, s)| format!("{label}（{}）", pct(*s)))
            .collect();
        out.push(Advice {
            topic: "回复时效",
            action: if worst.is_empty() {
                "对超时未回复留言逐条督办，确保网络留言24小时内回复。".into()
            } else {
                format!(
                    "督办{}，对超时留言逐条回复，确保网络留言24小时内回复。",
                    worst.join("、")
                )
            },
            evidence: format!(
                "{}24小时内回复率{}；近7日超时未回复{}条，另有{}条将在24小时时限前到期。",
                r.cohort,
                share.map_or("—".into(), pct),
                r.overdue_total,
                r.nearly_due
            ),
        });
    }

    if !b.coverage.missing.is_empty() {
        out.push(Advice {
            topic: "数据报送",
            action: format!(
                "请相关单位补报{}数据，以免漏判风险。",
                b.coverage.missing.join("、")
            ),
            evidence: format!(
                "{}当日未收到{}数据。",
                b.date,
                b.coverage.missing.join("、")
            ),
        });
    }

    if out.is_empty() {
        out.push(Advice {
            topic: "总体",
            action: "各项指标平稳，保持现有工作安排，继续做好值守与监测。".into(),
            evidence: "当日无高危线索，热线接通、回复时效与重点人群筛查均未触发预警规则。".into(),
        });
    }
    out
}
