//! The projector is a pure function of the log: replaying the topics into an empty database
//! rebuilds the same status rows.

use std::time::{Duration, Instant};

use kirikae::domain::Area;
use kirikae::hub;
use tokio_util::sync::CancellationToken;

use crate::harness::*;

/// Every request row, as the status API would show it, sorted by id.
async fn rows(pool: &deadpool_postgres::Pool) -> Vec<String> {
    let client = pool.get().await.unwrap();
    let sql = "SELECT request_id::text, company_code, user_id, function, area, point_id, status,
                      coalesce(code, ''), attempts, coalesce(result::text, ''), accepted_at::text
               FROM requests ORDER BY request_id";
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let attempts: i32 = r.get(8);
            let cols: Vec<String> = (0..11)
                .filter(|i| *i != 8)
                .map(|i| r.get::<_, String>(i))
                .collect();
            format!("{} attempts={attempts}", cols.join("|"))
        })
        .collect()
}

/// The rows of `pool` once they equal `expected`, or as they are after a minute.
async fn rows_once_equal(pool: &deadpool_postgres::Pool, expected: &[String]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rebuilt = rows(pool).await;
    while rebuilt != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        rebuilt = rows(pool).await;
    }
    rebuilt
}

#[tokio::test]
async fn replaying_the_topics_into_an_empty_database_rebuilds_the_same_status() {
    let app = spawn_app(&[Area::Kansai, Area::Kyushu]).await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for (i, area) in [Area::Kansai, Area::Kyushu]
        .into_iter()
        .cycle()
        .take(8)
        .enumerate()
    {
        let (point, _) = app.point(area, 200 + i as u32);
        ids.push(a.facility_inquiry(&point).await);
        let vacant = vacant_point(area, i as u32);
        ids.push(a.accepted("reconnection", reconnection_body(&vacant)).await);
    }
    ids.push(
        a.facility_inquiry(&"0600000000000000000009".parse().unwrap())
            .await,
    );
    for id in &ids {
        a.final_status(id).await;
    }
    let original = hub::pool(&app.settings).unwrap();
    let expected = rows(&original).await;
    assert_eq!(expected.len(), ids.len());

    let mut replay = app.settings.clone();
    replay.database_url = format!("{}_replay", app.settings.database_url);
    let pool = hub::prepare(&replay).await.unwrap();
    let stop = CancellationToken::new();
    hub::start_projector(&replay, pool.clone(), stop.clone());
    let rebuilt = rows_once_equal(&pool, &expected).await;
    stop.cancel();
    assert_eq!(rebuilt, expected);
}

#[tokio::test]
async fn a_stored_position_past_the_end_of_the_log_is_read_again_from_the_beginning() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Tokyo, 300);
    let id = a.facility_inquiry(&point).await;
    a.final_status(&id).await;
    let expected = rows(&hub::pool(&app.settings).unwrap()).await;

    // A database that followed another log, far longer than this one.
    let mut other = app.settings.clone();
    other.database_url = format!("{}_other", app.settings.database_url);
    let pool = hub::prepare(&other).await.unwrap();
    let client = pool.get().await.unwrap();
    for topic in [
        other.requests_topic(Area::Tokyo),
        other.results_topic(Area::Tokyo),
    ] {
        for partition in 0..other.topic_partitions {
            client
                .execute(
                    "INSERT INTO projector_offsets (topic, partition, next_offset) VALUES ($1, $2, 1000000)",
                    &[&topic, &partition],
                )
                .await
                .unwrap();
        }
    }
    let stop = CancellationToken::new();
    hub::start_projector(&other, pool.clone(), stop.clone());
    let rebuilt = rows_once_equal(&pool, &expected).await;
    stop.cancel();
    assert_eq!(rebuilt, expected);
}
