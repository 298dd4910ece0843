//! Every statement on `data_keys` (migration V15).

use deadpool_postgres::GenericClient;

use super::Period;

/// A registration's data key of one period: its master key's id, and the wrapped key (`None`
/// once destroyed).
pub struct Stored {
    pub kek_id: String,
    pub wrapped: Option<Vec<u8>>,
}

pub async fn get<C: GenericClient>(
    c: &C,
    company: &str,
    period: &Period,
) -> Result<Option<Stored>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "SELECT kek_id, wrapped FROM data_keys WHERE company_code = $1 AND period = $2",
        )
        .await?;
    let row = c.query_opt(&stmt, &[&company, &period.as_str()]).await?;
    Ok(row.map(|r| Stored {
        kek_id: r.get(0),
        wrapped: r.get(1),
    }))
}

/// Keeps a new data key unless another process kept one first (then the caller reads theirs).
pub async fn insert<C: GenericClient>(
    c: &C,
    company: &str,
    period: &Period,
    kek_id: &str,
    wrapped: &[u8],
) -> Result<(), tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO data_keys (company_code, period, kek_id, wrapped) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_code, period) DO NOTHING",
        )
        .await?;
    c.execute(&stmt, &[&company, &period.as_str(), &kek_id, &wrapped])
        .await?;
    Ok(())
}

/// Destroys every data key of `period`; the master keys that had wrapped them.
pub async fn destroy<C: GenericClient>(
    c: &C,
    period: &Period,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = c
        .query(
            "UPDATE data_keys SET wrapped = NULL, destroyed_at = now()
             WHERE period = $1 AND wrapped IS NOT NULL RETURNING kek_id",
            &[&period.as_str()],
        )
        .await?;
    let mut keks: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    keks.sort();
    keks.dedup();
    Ok(keks)
}

/// The periods whose data keys master key `kek_id` still wraps.
pub async fn live_periods_of<C: GenericClient>(
    c: &C,
    kek_id: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT DISTINCT period FROM data_keys WHERE kek_id = $1 AND wrapped IS NOT NULL
             ORDER BY period",
            &[&kek_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
