//! A closed-loop HTTP/1.1 load generator: `--concurrency` connections, each sending its next
//! request when the last is answered, for `--warmup` seconds (not counted) and then
//! `--seconds` (counted). Prints one JSON line: requests, errors, throughput, p50/p99/max.
//!
//! Bodies and paths are templates, filled per request: `{n}` a counter unique in the run,
//! `{b58}` a 22-character base58 string unique in the run, `{now_ms}` the Unix time in ms,
//! `{id}` a line of `--ids` (round robin). Header values are templates too.
//!
//! `infentre-load --url http://127.0.0.1:8080/v1/cookie-consents --method POST \
//!    --body '{"analytics":true,"marketing":false}' --concurrency 8 --warmup 5 --seconds 10`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// `http://host:port/path`, the path a template.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// The body template (sent as application/json).
    #[arg(long)]
    body: Option<String>,
    /// `Name: value`, repeatable.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// A file of values for `{id}`, one a line.
    #[arg(long)]
    ids: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
}

struct Target {
    authority: String,
    path: String,
    method: http::Method,
    body: Option<String>,
    /// Names and value templates.
    headers: Vec<(http::HeaderName, String)>,
    ids: Vec<String>,
    counter: AtomicU64,
    run_tag: u64,
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58(mut value: u128) -> String {
    let mut out = [b'1'; 22];
    for slot in out.iter_mut().rev() {
        *slot = BASE58[(value % 58) as usize];
        value /= 58;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    fn fill(&self, template: &str, n: u64) -> String {
        let mut text = template.replace("{n}", &n.to_string());
        if text.contains("{b58}") {
            text = text.replace("{b58}", &base58((u128::from(self.run_tag) << 64) | u128::from(n)));
        }
        if text.contains("{now_ms}") {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
            text = text.replace("{now_ms}", &now.to_string());
        }
        if !self.ids.is_empty() {
            let id = &self.ids[(n % self.ids.len() as u64) as usize];
            text = text.replace("{id}", id);
        }
        text
    }

    fn request(&self) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let body = self.body.as_deref().map(|b| self.fill(b, n)).unwrap_or_default();
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(self.fill(&self.path, n))
            .header(http::header::HOST, &self.authority);
        if self.body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &self.headers {
            request = request.header(name, self.fill(value, n));
        }
        request.body(Full::new(Bytes::from(body)))
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

async fn connection(target: Arc<Target>, counting: Arc<AtomicBool>, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    'reconnect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = tokio::net::TcpStream::connect(&target.authority).await else {
            tally.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
            tally.errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            let Ok(request) = target.request() else {
                tally.errors += 1;
                continue;
            };
            let started = Instant::now();
            let answer = match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.into_body().collect().await.map(|_| status)
                }
                Err(_) => {
                    tally.errors += 1;
                    continue 'reconnect;
                }
            };
            let elapsed = started.elapsed();
            if !counting.load(Ordering::Relaxed) {
                continue;
            }
            match answer {
                Ok(status) => {
                    *tally.statuses.entry(status).or_default() += 1;
                    if (200..300).contains(&status) {
                        tally.latencies_us.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                    } else {
                        tally.errors += 1;
                    }
                }
                Err(_) => {
                    tally.errors += 1;
                    continue 'reconnect;
                }
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rest = args.url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) =
        rest.split_once('/').map(|(a, p)| (a.to_owned(), format!("/{p}"))).unwrap_or((rest.to_owned(), "/".to_owned()));
    let mut headers = Vec::new();
    for header in &args.headers {
        let (name, value) = header.split_once(':').ok_or("a header is `Name: value`")?;
        headers.push((http::HeaderName::try_from(name.trim())?, value.trim().to_owned()));
    }
    let ids = match &args.ids {
        Some(file) => std::fs::read_to_string(file)?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        None => Vec::new(),
    };
    let run_tag = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let target = Arc::new(Target {
        authority,
        path,
        method: http::Method::from_bytes(args.method.as_bytes())?,
        body: args.body.clone(),
        headers,
        ids,
        counter: AtomicU64::new(0),
        run_tag,
    });
    let (counting, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(connection(target.clone(), counting.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.await?;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
        for (status, count) in tally.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
    }
    all.latencies_us.sort_unstable();
    let ok = all.latencies_us.len();
    let output = serde_json::json!({
        "label": args.label,
        "url": args.url,
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "ok": ok,
        "errors": all.errors,
        "statuses": all.statuses.iter().map(|(s, c)| (s.to_string(), serde_json::Value::from(*c))).collect::<serde_json::Map<_, _>>(),
        "rps": ok as f64 / elapsed,
        "p50_ms": percentile(&all.latencies_us, 50.0),
        "p99_ms": percentile(&all.latencies_us, 99.0),
        "max_ms": percentile(&all.latencies_us, 100.0),
    });
    println!("{output}");
    Ok(())
}
