//! ユーザ一括登録 on the bulk machinery (`POST /api/v1/bulk/users`): the rows previewed with the
//! rules of a single user registration, the good ones registered once on confirm, the
//! download telling each row, and only an administrator may upload.

use kirikae::csv_text::CsvEncoding;
use kirikae::domain::Area;

use crate::bulk::{BulkClient, csv_file};
use crate::harness::*;

const USERS_HEADER: &str = "user_id,name,mail,administrator,permissions,contractor";

#[tokio::test]
async fn a_user_file_previews_its_bad_rows_and_registers_each_good_user_once() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let admin = app.login(RETAILER_A).await;
    let lines = vec![
        "a0001.bulk.taro,切替 太郎,taro@example.jp,0,,".to_string(),
        "a0001.bulk.jiro,切替 次郎,not-a-mail,0,,".to_string(), // line 3
        "a0001.bulk.hanako,髙橋 花子,hanako@example.jp,1,,".to_string(),
        "a0001.bulk.saburo,切替 三郎,saburo@example.jp,0,no-such-function,".to_string(), // line 5
    ];
    let file = csv_file(USERS_HEADER, &lines).into_bytes();
    let ordinary = app.login_ordinary(RETAILER_A).await;
    let (code, refusal) = BulkClient(&ordinary)
        .upload("users", "", file.clone())
        .await;
    assert_eq!(
        (code, refusal["code"].as_str()),
        (403, Some("administrator_required"))
    );

    let bulk = BulkClient(&admin);
    let preview = bulk.previewed("users", file).await;
    let bad = preview["bad_rows"].as_array().unwrap();
    assert_eq!(bad.len(), 2, "{preview}");
    assert_eq!(
        (
            bad[0]["line"].as_i64(),
            bad[0]["code"].as_str(),
            bad[0]["column"].as_str()
        ),
        (Some(3), Some("invalid_mail"), Some("mail"))
    );
    assert_eq!(
        (bad[1]["line"].as_i64(), bad[1]["code"].as_str()),
        (Some(5), Some("unknown_function"))
    );
    let (code, _) = admin.get("/api/v1/admin/users/a0001.bulk.taro").await;
    assert_eq!(code, 404, "nothing registered before confirm");

    let (first, second) = tokio::join!(
        bulk.confirm(&preview, "?only_good=true"),
        bulk.confirm(&preview, "?only_good=true")
    );
    assert_eq!((first.0, second.0), (202, 202));
    let done = bulk
        .until(&preview, "every good user registered", |b| {
            b["state"] == "filed"
        })
        .await;
    assert_eq!(done["counts"]["filed"], 2, "{done}");
    let (code, taro) = admin.get("/api/v1/admin/users/a0001.bulk.taro").await;
    assert_eq!(code, 200, "{taro}");
    assert_eq!(taro["mail"], "taro@example.jp");
    let (_, hanako) = admin.get("/api/v1/admin/users/a0001.bulk.hanako").await;
    assert_eq!(hanako["administrator"], true, "{hanako}");
    let rows = bulk.rows(&preview, CsvEncoding::Utf8).await;
    let outcomes: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        outcomes,
        ["申請済 filed", "不備 bad", "申請済 filed", "不備 bad"]
    );
    assert_eq!(rows[0][4], "registered");
}
