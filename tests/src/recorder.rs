//! A stand-in for Google Analytics' Measurement Protocol and Facebook's Conversions API on a
//! free loopback port: it records every request and answers with the status it is told to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use serde_json::Value;
use shared::marketing::http::HttpDestination;
use shared::marketing::{Destination, DestinationSettings, FacebookSettings, Ga4Settings};

#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct MarketingRecorder {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// Answers by path prefix; 200 for GA4 (it answers 204) and Facebook otherwise.
    failing: Arc<Mutex<HashMap<&'static str, u16>>>,
}

pub const GA4_PATH: &str = "/mp/collect";
pub const FACEBOOK_PATH: &str = "/v21.0/1234567890/events";

impl MarketingRecorder {
    pub async fn start() -> Self {
        let mut recorder = Self::default();
        let app = axum::Router::new()
            .route(GA4_PATH, post(record))
            .route(FACEBOOK_PATH, post(record))
            .with_state(recorder.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        recorder.url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        recorder
    }

    /// Settings that point both destinations here.
    pub fn settings(&self) -> DestinationSettings {
        DestinationSettings {
            google_analytics: Some(Ga4Settings {
                endpoint: format!("{}{GA4_PATH}", self.url),
                measurement_id: "G-TEST123".into(),
                api_secret: "ga4-secret".into(),
            }),
            facebook: Some(FacebookSettings {
                endpoint: format!("{}/v21.0", self.url),
                pixel_id: "1234567890".into(),
                access_token: "fb-token".into(),
            }),
        }
    }

    pub fn destinations(&self) -> Vec<Arc<dyn Destination>> {
        HttpDestination::all(&self.settings())
            .expect("an HTTP client")
            .into_iter()
            .map(|d| Arc::new(d) as Arc<dyn Destination>)
            .collect()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("recorder lock").clone()
    }

    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Makes requests to `path` answer `status` from now on.
    pub fn answer(&self, path: &'static str, status: u16) {
        self.failing.lock().expect("recorder lock").insert(path, status);
    }
}

async fn record(
    State(recorder): State<MarketingRecorder>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> StatusCode {
    let path = uri.path().to_owned();
    let status = recorder.failing.lock().expect("recorder lock").get(path.as_str()).copied();
    recorder.received.lock().expect("recorder lock").push(Received { path: path.clone(), query, body });
    match status {
        Some(status) => StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        None if path == GA4_PATH => StatusCode::NO_CONTENT,
        None => StatusCode::OK,
    }
}
