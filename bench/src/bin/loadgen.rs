//! A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the same
//! request as soon as the previous answer arrives, for a fixed time. Prints one JSON line.
//!
//! It runs on a current-thread runtime so it can be pinned to one core (`taskset`) away from
//! the server under test.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use secrets_gateway_bench::Target;

#[derive(Debug, Parser)]
struct Args {
    /// http://host:port/path or https://host:port/path
    url: String,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value = "GET")]
    method: String,
    /// A request header, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    #[arg(long, default_value = "")]
    body: String,
    #[arg(long)]
    cacert: Option<PathBuf>,
    #[arg(long)]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
}

struct Outcome {
    histogram: Histogram<u64>,
    errors: u64,
    non_2xx: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let target = Arc::new(target(&args)?);
    let request = Arc::new(request_template(&args, &target)?);
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);

    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (target, request) = (Arc::clone(&target), Arc::clone(&request));
        tasks.push(tokio::spawn(async move {
            connection(&target, &request, measure_from, end).await
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut errors, mut non_2xx) = (0, 0);
    for task in tasks {
        let outcome = task.await??;
        histogram.add(&outcome.histogram)?;
        errors += outcome.errors;
        non_2xx += outcome.non_2xx;
    }
    let seconds = args.duration;
    let summary = secrets_gateway_bench::summary(
        &args.label,
        args.connections,
        seconds,
        &histogram,
        errors,
        non_2xx,
    );
    println!("{summary}");
    Ok(())
}

fn target(args: &Args) -> anyhow::Result<Target> {
    let identity = args.cert.as_deref().zip(args.key.as_deref());
    Target::new(&args.url, args.cacert.as_deref(), identity)
}

fn request_template(args: &Args, target: &Target) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
    let mut builder = hyper::Request::builder()
        .method(args.method.as_str())
        .uri(target.path.as_str())
        .header("host", target.authority());
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .context("headers are `Name: value`")?;
        builder = builder.header(name.trim(), value.trim());
    }
    Ok(builder.body(Full::new(Bytes::from(args.body.clone())))?)
}

fn copy(template: &hyper::Request<Full<Bytes>>) -> hyper::Request<Full<Bytes>> {
    let mut request = hyper::Request::new(template.body().clone());
    *request.method_mut() = template.method().clone();
    *request.uri_mut() = template.uri().clone();
    *request.headers_mut() = template.headers().clone();
    request
}

async fn connection(
    target: &Target,
    template: &hyper::Request<Full<Bytes>>,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome {
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        errors: 0,
        non_2xx: 0,
    };
    while Instant::now() < end {
        let mut sender = match target.connect().await {
            Ok(sender) => sender,
            Err(_) => {
                outcome.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while Instant::now() < end {
            let sent = Instant::now();
            let result = async {
                let response = sender.send_request(copy(template)).await?;
                let status = response.status();
                response.into_body().collect().await?;
                anyhow::Ok(status)
            }
            .await;
            let finished = Instant::now();
            match result {
                Ok(status) => {
                    if sent >= measure_from && finished <= end {
                        outcome
                            .histogram
                            .record(finished.duration_since(sent).as_micros().max(1) as u64)?;
                        if !status.is_success() {
                            outcome.non_2xx += 1;
                        }
                    }
                }
                Err(_) => {
                    outcome.errors += 1;
                    break;
                }
            }
        }
    }
    Ok(outcome)
}
