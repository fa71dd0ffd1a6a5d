//! A closed-loop gRPC load generator for GetSecretValue over mTLS: `--connections` HTTP/2
//! connections, each carrying `--streams` callers that send the next call as soon as the
//! previous answer arrives, for a fixed time. Prints one JSON line, as `loadgen` does.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use secrets_gateway_proto::GetSecretValueRequest;
use secrets_gateway_proto::secrets_client::SecretsClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

#[derive(Debug, Parser)]
struct Args {
    /// https://host:port of the gateway.
    endpoint: String,
    #[arg(long)]
    secret_id: String,
    #[arg(long, default_value_t = 4)]
    connections: usize,
    #[arg(long, default_value_t = 8)]
    streams: usize,
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long)]
    cacert: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&args.cacert)?))
        .identity(Identity::from_pem(
            std::fs::read(&args.cert)?,
            std::fs::read(&args.key)?,
        ));
    let measure_from = Instant::now() + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let mut callers = Vec::new();
    for _ in 0..args.connections {
        // One channel per connection: tonic multiplexes every clone of it on one HTTP/2
        // connection.
        let channel = Channel::from_shared(args.endpoint.clone())?
            .tls_config(tls.clone())?
            .connect()
            .await?;
        for _ in 0..args.streams {
            let client = SecretsClient::new(channel.clone());
            let secret_id = args.secret_id.clone();
            callers.push(tokio::spawn(caller(client, secret_id, measure_from, end)));
        }
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for caller in callers {
        let (part, failed) = caller.await??;
        histogram.add(&part)?;
        errors += failed;
    }
    let summary = secrets_gateway_bench::summary(
        &args.label,
        args.connections * args.streams,
        args.duration,
        &histogram,
        errors,
        0,
    );
    println!("{summary}");
    Ok(())
}

async fn caller(
    mut client: SecretsClient<Channel>,
    secret_id: String,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    while Instant::now() < end {
        let sent = Instant::now();
        let request = GetSecretValueRequest {
            secret_id: secret_id.clone(),
            ..GetSecretValueRequest::default()
        };
        let result = client.get_secret_value(request).await;
        let finished = Instant::now();
        if sent < measure_from || finished > end {
            continue;
        }
        match result {
            Ok(_) => histogram.record(finished.duration_since(sent).as_micros().max(1) as u64)?,
            Err(_) => errors += 1,
        }
    }
    Ok((histogram, errors))
}
