//! The layer on the API listener: names each request, joins or starts its trace as the
//! API's server span, and counts it by route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::{CURRENT, Hop, Span, SpanKind, TRACEPARENT, TraceContext};

/// The header a client may name its request by, echoed on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-Id` when it is a sensible token (1–64 of `A–Z a–z 0–9 . _ -`),
/// otherwise a new UUID v7: ids are logged and echoed, so nothing else is taken.
pub fn request_id_of(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The `service.name` of the API's spans.
pub const API_SERVICE: &str = "kirikae-api";

/// The layer on every HTTP listener of the hub: names the request (`X-Request-Id`, echoed),
/// joins or starts its trace, runs it in a span carrying both, and counts it by route template
/// (`kirikae_http_requests_total`, `kirikae_http_request_duration_seconds`).
pub async fn http_layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(request.headers().get(&REQUEST_ID));
    let parent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse);
    let context = parent.map_or_else(TraceContext::root, |p| p.child());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_string();
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        trace_id = %context.trace_id_hex(),
        method = %method,
        route = %route,
    );
    let server = Span::start(
        API_SERVICE,
        route.clone(),
        SpanKind::Server,
        context,
        parent.map(|p| p.span_id),
    );
    let hop = Hop {
        context,
        service: API_SERVICE,
    };
    let mut response = CURRENT
        .scope(hop, next.run(request).instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    server
        .attribute("http.request.method", &method)
        .attribute("http.route", &route)
        .attribute("http.response.status_code", status)
        .end(status < 500);
    span.in_scope(|| tracing::debug!(status, "answered"));
    crate::metrics::HttpRequestServed {
        route: &route,
        method: &method,
        status,
        seconds: started.elapsed().as_secs_f64(),
    }
    .emit();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_id_is_kept_only_when_well_formed() {
        let ok = HeaderValue::from_static("order-42_a.b");
        assert_eq!(request_id_of(Some(&ok)), "order-42_a.b");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let v = HeaderValue::from_str(bad).unwrap();
            let made = request_id_of(Some(&v));
            assert_ne!(made, bad);
            assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        }
    }
}

#[cfg(test)]
mod layer_tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// Every line written while the subscriber is the default, as the JSON formatter writes it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn answered(request: axum::http::Request<Body>, captured: &Captured) -> Response {
        let app = Router::new()
            .route(
                "/things/{id}",
                get(|| async {
                    tracing::info!("looking the thing up");
                    "ok"
                }),
            )
            .layer(axum::middleware::from_fn(http_layer));
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        app.oneshot(request).await.unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_request_id_is_echoed_and_on_every_json_log_line_about_the_request() {
        let captured = Captured::default();
        let request = axum::http::Request::get("/things/7")
            .header("x-request-id", "client-chosen-1")
            .header(
                TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Body::empty())
            .unwrap();
        let response = answered(request, &captured).await;
        assert_eq!(response.headers()["x-request-id"], "client-chosen-1");
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["message"] == "looking the thing up")
            .unwrap_or_else(|| panic!("no such line in {text}"));
        assert_eq!(line["span"]["request_id"], "client-chosen-1", "{line}");
        assert_eq!(
            line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{line}"
        );
        assert_eq!(line["span"]["route"], "/things/{id}", "{line}");
        // Counted by its route template, not by the raw path.
        let exported = crate::metrics::render();
        assert!(
            exported.contains(
                r#"kirikae_http_requests_total{method="GET",route="/things/{id}",status="200"}"#
            ),
            "{exported}"
        );
        assert!(!exported.contains("/things/7"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_without_an_id_gets_a_new_one() {
        let captured = Captured::default();
        let request = axum::http::Request::get("/things/7")
            .body(Body::empty())
            .unwrap();
        let response = answered(request, &captured).await;
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    }
}
