//! Synthetic but plausible place and person names for the simulated registers: the
//! municipalities of each area's prefectures, and common family and given names.

use crate::domain::Area;

/// A municipality (prefecture included) and some of its towns.
pub type Place = (&'static str, &'static [&'static str]);

const HOKKAIDO: &[Place] = &[
    ("北海道札幌市中央区", &["大通西", "南三条西", "北一条西"]),
    ("北海道旭川市", &["宮下通", "四条通"]),
    ("北海道函館市", &["本町", "五稜郭町"]),
];
const TOHOKU: &[Place] = &[
    ("宮城県仙台市青葉区", &["一番町", "本町", "中央"]),
    ("青森県青森市", &["新町", "長島"]),
    ("岩手県盛岡市", &["大通", "内丸"]),
    ("福島県郡山市", &["駅前", "堂前町"]),
    ("新潟県新潟市中央区", &["万代", "古町通"]),
];
const TOKYO: &[Place] = &[
    ("東京都新宿区", &["西新宿", "高田馬場", "神楽坂"]),
    ("東京都世田谷区", &["三軒茶屋", "下北沢"]),
    ("神奈川県横浜市中区", &["山下町", "本町"]),
    ("埼玉県さいたま市浦和区", &["高砂", "常盤"]),
    ("千葉県千葉市中央区", &["中央", "富士見"]),
];
const CHUBU: &[Place] = &[
    ("愛知県名古屋市中区", &["栄", "錦", "丸の内"]),
    ("静岡県静岡市葵区", &["追手町", "呉服町"]),
    ("岐阜県岐阜市", &["金町", "長住町"]),
    ("長野県長野市", &["大字長野", "南長野"]),
];
const HOKURIKU: &[Place] = &[
    ("富山県富山市", &["牛島町", "新桜町"]),
    ("石川県金沢市", &["広坂", "本町"]),
    ("福井県福井市", &["大手", "中央"]),
];
const KANSAI: &[Place] = &[
    ("大阪府大阪市北区", &["中之島", "梅田", "天神橋"]),
    ("京都府京都市中京区", &["烏丸通", "河原町"]),
    ("兵庫県神戸市中央区", &["加納町", "三宮町"]),
    ("奈良県奈良市", &["登大路町", "三条町"]),
];
const CHUGOKU: &[Place] = &[
    ("広島県広島市中区", &["小町", "紙屋町"]),
    ("岡山県岡山市北区", &["内山下", "駅前町"]),
    ("山口県山口市", &["滝町", "中央"]),
    ("島根県松江市", &["殿町", "朝日町"]),
];
const SHIKOKU: &[Place] = &[
    ("香川県高松市", &["丸の内", "番町"]),
    ("愛媛県松山市", &["一番町", "大街道"]),
    ("徳島県徳島市", &["万代町", "寺島本町"]),
    ("高知県高知市", &["丸ノ内", "本町"]),
];
const KYUSHU: &[Place] = &[
    ("福岡県福岡市中央区", &["天神", "渡辺通"]),
    ("熊本県熊本市中央区", &["水前寺", "手取本町"]),
    ("鹿児島県鹿児島市", &["山下町", "東千石町"]),
    ("長崎県長崎市", &["江戸町", "浜町"]),
];
const OKINAWA: &[Place] = &[
    ("沖縄県那覇市", &["泉崎", "久茂地"]),
    ("沖縄県浦添市", &["牧港", "安波茶"]),
    ("沖縄県沖縄市", &["中央", "胡屋"]),
];

/// The municipalities the area's operator serves (never empty).
pub fn places(area: Area) -> &'static [Place] {
    match area {
        Area::Hokkaido => HOKKAIDO,
        Area::Tohoku => TOHOKU,
        Area::Tokyo => TOKYO,
        Area::Chubu => CHUBU,
        Area::Hokuriku => HOKURIKU,
        Area::Kansai => KANSAI,
        Area::Chugoku => CHUGOKU,
        Area::Shikoku => SHIKOKU,
        Area::Kyushu => KYUSHU,
        Area::Okinawa => OKINAWA,
    }
}

/// Family names in kanji and katakana.
pub const FAMILY_NAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
];

/// Given names in kanji and katakana.
pub const GIVEN_NAMES: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("翔太", "ショウタ"),
    ("陽菜", "ヒナ"),
    ("健一", "ケンイチ"),
    ("美咲", "ミサキ"),
    ("大輔", "ダイスケ"),
    ("結衣", "ユイ"),
    ("誠", "マコト"),
    ("由美", "ユミ"),
];
