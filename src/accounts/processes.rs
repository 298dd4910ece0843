//! The API processes alive now (`api_processes`): each announces itself, so that a limit the
//! terms set per registration (the request rate) can be shared out among them rather than
//! multiplied by their number.

use std::time::Duration;

use deadpool_postgres::Pool;

/// Refreshes `me`'s row, and answers how many processes announced themselves within
/// `gone_after` (at least 1: this one).
pub async fn announce(pool: &Pool, me: uuid::Uuid, gone_after: Duration) -> anyhow::Result<u32> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO api_processes (process_id) VALUES ($1)
             ON CONFLICT (process_id) DO UPDATE SET seen_at = now()",
            &[&me],
        )
        .await?;
    let live: i64 = client
        .query_one(
            "SELECT count(*) FROM api_processes
             WHERE seen_at > now() - make_interval(secs => $1)",
            &[&gone_after.as_secs_f64()],
        )
        .await?
        .get(0);
    // Rows of processes long gone are of no use to anyone.
    client
        .execute(
            "DELETE FROM api_processes WHERE seen_at < now() - interval '1 hour'",
            &[],
        )
        .await?;
    Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
}

/// Records the share `me` took (`peers`): what an operator reads to see the split.
pub async fn took_share(pool: &Pool, me: uuid::Uuid, peers: u32) -> anyhow::Result<()> {
    let peers = i32::try_from(peers).unwrap_or(i32::MAX);
    pool.get()
        .await?
        .execute(
            "UPDATE api_processes SET peers = $2 WHERE process_id = $1",
            &[&me, &peers],
        )
        .await?;
    Ok(())
}

/// Removes `me`, so the others take its share at their next announcement.
pub async fn leave(pool: &Pool, me: uuid::Uuid) -> anyhow::Result<()> {
    pool.get()
        .await?
        .execute("DELETE FROM api_processes WHERE process_id = $1", &[&me])
        .await?;
    Ok(())
}
