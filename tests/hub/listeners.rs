//! A process that cannot bind a listener says which, and what moves it.

use kirikae::config::Settings;
use kirikae::hub;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_taken_ops_or_api_address_is_named_with_its_setting_and_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let settings = Settings::default();
    let shutdown = CancellationToken::new();
    let err = hub::serve_ops(&settings, addr, None, &shutdown)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    for said in [&addr.to_string(), "ops_listen", "--ops-listen", "in use"] {
        assert!(text.contains(said), "{said} not in: {text}");
    }
    let pool = hub::pool(&settings).unwrap();
    let err = hub::start_api(&settings, pool, addr, shutdown.clone())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    for said in [&addr.to_string(), "api_listen", "--listen"] {
        assert!(text.contains(said), "{said} not in: {text}");
    }
}
