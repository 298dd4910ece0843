//! The API's own description, served over the same TLS listener.

use kirikae::domain::Function;
use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn the_openapi_document_is_served_and_names_every_function() {
    let app = spawn_app(&[]).await;
    let resp = app
        .client_for(RETAILER_A)
        .get(format!("{}/openapi.json", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for f in Function::ALL {
        let path = format!("/api/v1/{}", f.slug());
        assert!(doc["paths"][&path]["post"].is_object(), "{path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "SubmissionEnvelope",
        "SwitchStart",
        "UsageResult",
        "RequestView",
        "ErrorBody",
        "FacilityInquiryResult",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
}
