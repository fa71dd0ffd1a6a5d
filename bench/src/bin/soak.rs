//! A bounded soak of the Secrets Manager JSON protocol over mTLS. `--connections` closed-loop
//! workers, one keep-alive connection each, mix GetSecretValue (most), PutSecretValue,
//! RotateSecret with `plugin:minimal`, DescribeSecret and ListSecrets for `--duration` seconds,
//! checking every answer as it comes; then they check what the gateway kept. Prints one JSON
//! line and exits non-zero on an unexpected error or a failed check.
//!
//! - Every secret has one owner, the worker that writes, rotates, retires and replaces it;
//!   every worker reads and describes any secret.
//! - A written secret's values are known: a read must return a value the soak wrote in the
//!   secret's current generation, no older than the last write acknowledged before the read
//!   was sent (the gateway's cache promises read-after-write). At the end, AWSCURRENT must be
//!   the last acknowledged write.
//! - A RotateSecret refused because the previous rotation isn't complete is an expected error.
//!   Once rotations settle, AWSCURRENT must be on the version of the last accepted RotateSecret,
//!   with no AWSPENDING left and no more versions than accepted rotations plus the first.
//! - The service keeps at most 100 versions a day, so a secret retires after
//!   [`WRITES_PER_GENERATION`] writes or [`ROTATIONS_PER_GENERATION`] rotations: it is checked
//!   as at the end, deleted, and replaced under a new name (CreateSecret and DeleteSecret
//!   join the mix).
//! - With `--pid`, the gateway's VmRSS is sampled once a second.
//!
//! Everything is bounded: each request by `--timeout`, the load by `--duration`, and the whole
//! run by the load plus [`FINAL_GRACE`]. Secret values never appear in the output; the values
//! the soak writes start with `value_marker` (printed), so that logs can be searched for them.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST};
use secrets_gateway_bench::Target;
use serde_json::{Value, json};
use tokio::sync::RwLock;

/// PutSecretValue calls per generation of a written secret: with the first version, fewer
/// than the 100 versions a secret may have.
const WRITES_PER_GENERATION: u64 = 90;
/// Accepted RotateSecret calls per generation of a rotated secret, for the same reason.
const ROTATIONS_PER_GENERATION: u64 = 90;
/// How long the rotations of a secret may take to settle once the last one was accepted.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the checks after the load may take, beyond which the run fails.
const FINAL_GRACE: Duration = Duration::from_secs(300);
/// The plugin that rotates: every step succeeds, the gateway makes the new value.
const ROTATION_LAMBDA_ARN: &str = "plugin:minimal";
/// The refusal of a RotateSecret while the previous rotation runs: expected.
const ROTATION_IN_PROGRESS: &str = "A previous rotation isn't complete";
/// How many failure notes the output keeps.
const MAX_NOTES: usize = 20;

#[derive(Debug, Parser)]
struct Args {
    /// https://host:port of the gateway.
    #[arg(long)]
    endpoint: String,
    /// The CA certificate the gateway's certificate is checked with (PEM).
    #[arg(long)]
    cacert: PathBuf,
    /// The client certificate (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// The client certificate's private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// Seconds of load.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
    /// Closed-loop workers, one connection each.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Secrets that are written (each by one worker) and read.
    #[arg(long, default_value_t = 32)]
    secrets: usize,
    /// Secrets that are rotated with plugin:minimal and read.
    #[arg(long, default_value_t = 4)]
    rotated_secrets: usize,
    /// How often, in percent, a RotateSecret is followed at once by a second one for the same
    /// secret, as a client retrying would send.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    double_rotations: u8,
    /// The gateway's process id, whose VmRSS is sampled once a second.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds of load before the RSS baseline (`rss_kib.after_warmup`); at most half the
    /// duration.
    #[arg(long, default_value_t = 20.0)]
    warmup: f64,
    /// Seconds a request may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// A label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    println!("{report}");
    if report["passed"] != true {
        std::process::exit(1);
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Value> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    let target = Arc::new(Target::new(
        &args.endpoint,
        Some(&args.cacert),
        Some((&args.cert, &args.key)),
    )?);
    let run_id = format!(
        "soak-{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let shared = Arc::new(Shared {
        written: (0..args.secrets)
            .map(|_| Arc::new(Slot::default()))
            .collect(),
        rotated: (0..args.rotated_secrets)
            .map(|_| Arc::new(Slot::default()))
            .collect(),
        marker: format!("soakvalue-{run_id}"),
        run_id,
    });
    let duration = Duration::from_secs_f64(args.duration);
    let warmup = Duration::from_secs_f64(args.warmup.min(args.duration / 2.0));

    let mut setups = Vec::new();
    for id in 0..args.connections {
        let worker = Worker::new(id, args, &shared, &target);
        setups.push(tokio::spawn(worker.setup()));
    }
    let mut workers = Vec::new();
    for setup in setups {
        workers.push(setup.await?);
    }

    let started = Instant::now();
    let load_end = started + duration;
    let rss = args.pid.map(|pid| RssSampler::start(pid, started));
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|worker| tokio::spawn(worker.run(load_end)))
        .collect();
    let mut stats = Stats::default();
    let finished = tokio::time::timeout(duration + FINAL_GRACE, async {
        for task in tasks {
            stats.merge(task.await?)?;
        }
        anyhow::Ok(())
    })
    .await;
    match finished {
        Ok(result) => result?,
        Err(_) => stats.fail(
            "deadline",
            format!(
                "the workers did not finish within {}s of the load's end",
                FINAL_GRACE.as_secs()
            ),
        ),
    }
    let rss = rss.map(|sampler| sampler.finish(warmup, &mut stats));
    Ok(stats.report(args, &shared, duration, rss))
}

/// What all workers see: the secrets, by owner-independent index.
struct Shared {
    run_id: String,
    /// The start of every value the soak writes.
    marker: String,
    written: Vec<Arc<Slot>>,
    rotated: Vec<Arc<Slot>>,
}

impl Shared {
    fn name(&self, kind: Kind, index: usize, generation: u64) -> String {
        let kind = match kind {
            Kind::Written => "written",
            Kind::Rotated => "rotated",
        };
        format!("{}/{kind}-{index}-g{generation}", self.run_id)
    }

    /// The value of write `seq` of a written secret's generation: deterministic, so a read
    /// can tell a value the soak wrote from any other, with padding to a realistic size.
    fn written_value(&self, index: usize, generation: u64, seq: u64) -> String {
        let mut hasher = DefaultHasher::new();
        (&self.run_id, index, generation, seq).hash(&mut hasher);
        let mut rng = Rng(hasher.finish());
        let pad: String = (0..12).map(|_| format!("{:016x}", rng.next())).collect();
        format!(
            r#"{{"marker":"{}","slot":{index},"generation":{generation},"seq":{seq},"pad":"{pad}"}}"#,
            self.marker
        )
    }

    /// The first value of a rotated secret's generation, whose `password` rotations replace.
    fn rotated_value(&self, index: usize, generation: u64) -> String {
        format!(
            r#"{{"marker":"{}","username":"soak{index}","password":"first-of-generation-{generation}"}}"#,
            self.marker
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Written,
    Rotated,
}

/// One secret of the soak, replaced by a new generation (a new name) when it retires.
#[derive(Default)]
struct Slot {
    /// Readers hold it while their request runs; the owner takes it to replace the secret.
    current: RwLock<Generation>,
    /// Written secrets: the highest write of the generation sent, and the highest acknowledged.
    sent: AtomicU64,
    acknowledged: AtomicU64,
}

#[derive(Default)]
struct Generation {
    number: u64,
    name: String,
    /// Whether the secret exists: false until it is created, or when creating it failed.
    live: bool,
}

/// What the owner of a rotated secret knows of its generation's rotations.
#[derive(Default)]
struct Rotations {
    first_version: String,
    accepted: u64,
    /// The version of the last accepted RotateSecret and when it was sent (epoch ms).
    last: Option<(String, u128)>,
}

struct Worker {
    shared: Arc<Shared>,
    client: Client,
    rng: Rng,
    double_rotations: u8,
    stats: Stats,
    /// Indexes into `shared.written` that this worker writes.
    written: Vec<usize>,
    /// Indexes into `shared.rotated` that this worker rotates, with their rotations.
    rotated: Vec<(usize, Rotations)>,
}

impl Worker {
    fn new(id: usize, args: &Args, shared: &Arc<Shared>, target: &Arc<Target>) -> Self {
        let owned = |count: usize| (id..count).step_by(args.connections);
        Self {
            shared: Arc::clone(shared),
            client: Client {
                target: Arc::clone(target),
                sender: None,
                timeout: Duration::from_secs_f64(args.timeout),
            },
            rng: Rng(id as u64),
            double_rotations: args.double_rotations,
            stats: Stats::default(),
            written: owned(shared.written.len()).collect(),
            rotated: owned(shared.rotated.len())
                .map(|index| (index, Rotations::default()))
                .collect(),
        }
    }

    /// Creates the first generation of the worker's secrets.
    async fn setup(mut self) -> Self {
        for index in self.written.clone() {
            self.create_written(index, 0).await;
        }
        for position in 0..self.rotated.len() {
            self.create_rotated(position, 0).await;
        }
        self
    }

    async fn run(mut self, load_end: Instant) -> Stats {
        self.stats.load_end = Some(load_end);
        while Instant::now() < load_end {
            match self.random(100) {
                0..3 if !self.rotated.is_empty() => self.rotate().await,
                3..15 if !self.written.is_empty() => self.write().await,
                15..18 => self.describe().await,
                18 => self.list().await,
                _ => self.read().await,
            }
        }
        self.check_at_end().await;
        self.stats
    }

    fn random(&mut self, below: usize) -> usize {
        self.rng.below(below)
    }

    /// Any secret of the soak, written or rotated: its kind, its index among its kind, its slot.
    fn any_slot(&mut self) -> Option<(Kind, usize, Arc<Slot>)> {
        let (written, rotated) = (self.shared.written.len(), self.shared.rotated.len());
        if written + rotated == 0 {
            return None;
        }
        let pick = self.random(written + rotated);
        Some(if pick < written {
            (Kind::Written, pick, Arc::clone(&self.shared.written[pick]))
        } else {
            let index = pick - written;
            (
                Kind::Rotated,
                index,
                Arc::clone(&self.shared.rotated[index]),
            )
        })
    }

    async fn call(&mut self, op: Op, body: Value) -> Result<Value, CallError> {
        self.client.call(op, body, &mut self.stats).await
    }

    /// A call whose every error is unexpected.
    async fn call_ok(&mut self, op: Op, body: Value) -> Option<Value> {
        match self.call(op, body).await {
            Ok(answer) => Some(answer),
            Err(err) => {
                self.stats.unexpected(op, &err);
                None
            }
        }
    }

    async fn read(&mut self) {
        let Some((kind, index, slot)) = self.any_slot() else {
            return;
        };
        let generation = slot.current.read().await;
        if !generation.live {
            return;
        }
        let floor = slot.acknowledged.load(Ordering::SeqCst);
        let Some(answer) = self
            .call_ok(Op::Get, json!({ "SecretId": generation.name }))
            .await
        else {
            return;
        };
        let ceiling = slot.sent.load(Ordering::SeqCst);
        let name = &generation.name;
        let Some(value) = answer["SecretString"].as_str() else {
            self.stats.fail(
                "no_value",
                format!("{name}: GetSecretValue answered no SecretString"),
            );
            return;
        };
        match kind {
            Kind::Written => {
                let verdict = self.judge_written(index, generation.number, value, floor, ceiling);
                if let Err((kind, why)) = verdict {
                    self.stats.fail(kind, format!("{name}: a read {why}"));
                } else {
                    self.stats.count("written_reads_checked");
                }
            }
            Kind::Rotated => {
                if value.is_empty() || answer["VersionId"].as_str().is_none() {
                    self.stats.fail(
                        "no_value",
                        format!("{name}: an empty value or no VersionId"),
                    );
                }
            }
        }
    }

    /// Whether `value`, read from a written secret, is write `floor..=ceiling` of its
    /// generation; otherwise the failure's kind and a description without the value.
    fn judge_written(
        &self,
        index: usize,
        generation: u64,
        value: &str,
        floor: u64,
        ceiling: u64,
    ) -> Result<(), (&'static str, String)> {
        #[derive(serde::Deserialize)]
        struct Written {
            slot: usize,
            generation: u64,
            seq: u64,
        }
        let unwritten = || {
            (
                "unwritten_value",
                format!(
                    "returned a value of {} bytes that the soak never wrote",
                    value.len()
                ),
            )
        };
        let written: Written = serde_json::from_str(value).map_err(|_| unwritten())?;
        if written.slot != index
            || written.generation != generation
            || self.shared.written_value(index, generation, written.seq) != value
        {
            return Err(unwritten());
        }
        if written.seq < floor {
            return Err((
                "stale_read",
                format!(
                    "returned write {} after write {floor} was acknowledged",
                    written.seq
                ),
            ));
        }
        if written.seq > ceiling {
            return Err((
                "unwritten_value",
                format!("returned write {} before it was sent", written.seq),
            ));
        }
        Ok(())
    }

    async fn write(&mut self) {
        let pick = self.random(self.written.len());
        let index = self.written[pick];
        let slot = Arc::clone(&self.shared.written[index]);
        let seq = slot.sent.load(Ordering::SeqCst) + 1;
        let (name, generation, live) = {
            let current = slot.current.read().await;
            (current.name.clone(), current.number, current.live)
        };
        // A secret whose creation failed is created again, as a new generation.
        if seq > WRITES_PER_GENERATION || !live {
            self.retire_written(index).await;
            return;
        }
        let value = self.shared.written_value(index, generation, seq);
        slot.sent.store(seq, Ordering::SeqCst);
        let answer = self
            .call_ok(Op::Put, json!({ "SecretId": name, "SecretString": value }))
            .await;
        if let Some(answer) = answer {
            slot.acknowledged.store(seq, Ordering::SeqCst);
            if answer["VersionId"].as_str().is_none() {
                self.stats.fail(
                    "no_version",
                    format!("{name}: PutSecretValue answered no VersionId"),
                );
            }
        }
    }

    async fn rotate(&mut self) {
        let position = self.random(self.rotated.len());
        let index = self.rotated[position].0;
        let (name, live) = {
            let current = self.shared.rotated[index].current.read().await;
            (current.name.clone(), current.live)
        };
        if self.rotated[position].1.accepted >= ROTATIONS_PER_GENERATION || !live {
            self.retire_rotated(position).await;
            return;
        }
        // Sometimes a second RotateSecret right after the first, as a client retrying would
        // send: it is refused, or it supersedes the first.
        let attempts = if self.random(100) < usize::from(self.double_rotations) {
            2
        } else {
            1
        };
        for _ in 0..attempts {
            let sent = epoch_ms();
            let body = json!({ "SecretId": name, "RotationLambdaARN": ROTATION_LAMBDA_ARN });
            match self.call(Op::Rotate, body).await {
                Ok(answer) => {
                    let rotations = &mut self.rotated[position].1;
                    rotations.accepted += 1;
                    match answer["VersionId"].as_str() {
                        Some(version) => rotations.last = Some((version.to_owned(), sent)),
                        None => self.stats.fail(
                            "no_version",
                            format!("{name}: RotateSecret answered no VersionId"),
                        ),
                    }
                }
                Err(CallError::Api { code, message })
                    if code == "InvalidRequestException"
                        && message.contains(ROTATION_IN_PROGRESS) =>
                {
                    self.stats.expected(Op::Rotate, &code);
                }
                Err(err) => self.stats.unexpected(Op::Rotate, &err),
            }
        }
    }

    async fn describe(&mut self) {
        let Some((_, _, slot)) = self.any_slot() else {
            return;
        };
        let generation = slot.current.read().await;
        if !generation.live {
            return;
        }
        let name = &generation.name;
        if let Some(answer) = self
            .call_ok(Op::Describe, json!({ "SecretId": name }))
            .await
            && answer["Name"] != name.as_str()
        {
            self.stats.fail(
                "wrong_secret",
                format!("DescribeSecret of {name} answered another name"),
            );
        }
    }

    async fn list(&mut self) {
        let prefix = self.shared.run_id.clone();
        let body = json!({
            "MaxResults": 100,
            "Filters": [{ "Key": "name", "Values": [prefix] }],
        });
        let Some(answer) = self.call_ok(Op::List, body).await else {
            return;
        };
        let names = answer["SecretList"].as_array().map(|list| {
            list.iter()
                .map(|entry| entry["Name"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
        });
        match names {
            Some(names) if names.iter().all(|name| name.starts_with(&prefix)) => {}
            _ => self.stats.fail(
                "wrong_secret",
                "ListSecrets answered no SecretList or a secret outside its filter".into(),
            ),
        }
    }

    async fn create_written(&mut self, index: usize, number: u64) {
        let name = self.shared.name(Kind::Written, index, number);
        let value = self.shared.written_value(index, number, 0);
        let created = self
            .call_ok(Op::Create, json!({ "Name": name, "SecretString": value }))
            .await
            .is_some();
        let slot = &self.shared.written[index];
        let mut current = slot.current.write().await;
        slot.sent.store(0, Ordering::SeqCst);
        slot.acknowledged.store(0, Ordering::SeqCst);
        *current = Generation {
            number,
            name,
            live: created,
        };
    }

    async fn create_rotated(&mut self, position: usize, number: u64) {
        let index = self.rotated[position].0;
        let name = self.shared.name(Kind::Rotated, index, number);
        let value = self.shared.rotated_value(index, number);
        let answer = self
            .call_ok(Op::Create, json!({ "Name": name, "SecretString": value }))
            .await;
        let first_version = answer
            .as_ref()
            .and_then(|answer| answer["VersionId"].as_str())
            .unwrap_or_default()
            .to_owned();
        self.rotated[position].1 = Rotations {
            first_version,
            ..Rotations::default()
        };
        *self.shared.rotated[index].current.write().await = Generation {
            number,
            name,
            live: answer.is_some(),
        };
    }

    /// Checks a written secret at the end of its generation, deletes it and creates the next.
    async fn retire_written(&mut self, index: usize) {
        let slot = Arc::clone(&self.shared.written[index]);
        let (name, number) = {
            let current = slot.current.read().await;
            (current.name.clone(), current.number)
        };
        self.check_written(index).await;
        self.delete(&slot, &name).await;
        self.create_written(index, number + 1).await;
        self.stats.count("generations_retired");
    }

    async fn retire_rotated(&mut self, position: usize) {
        let slot = Arc::clone(&self.shared.rotated[self.rotated[position].0]);
        let (name, number) = {
            let current = slot.current.read().await;
            (current.name.clone(), current.number)
        };
        self.check_rotated(position).await;
        self.delete(&slot, &name).await;
        self.create_rotated(position, number + 1).await;
        self.stats.count("generations_retired");
    }

    /// Deletes the secret at once, once no reader is using it.
    async fn delete(&mut self, slot: &Slot, name: &str) {
        let mut current = slot.current.write().await;
        if !current.live {
            return;
        }
        current.live = false;
        let body = json!({ "SecretId": name, "ForceDeleteWithoutRecovery": true });
        self.call_ok(Op::Delete, body).await;
    }

    /// AWSCURRENT of a written secret is its last acknowledged write (or, after a failed
    /// write, a write no older).
    async fn check_written(&mut self, index: usize) {
        let slot = Arc::clone(&self.shared.written[index]);
        let current = slot.current.read().await;
        if !current.live {
            return;
        }
        let (acknowledged, sent) = (
            slot.acknowledged.load(Ordering::SeqCst),
            slot.sent.load(Ordering::SeqCst),
        );
        let name = &current.name;
        let body = json!({ "SecretId": name, "VersionStage": "AWSCURRENT" });
        let Some(answer) = self.call_ok(Op::Get, body).await else {
            return;
        };
        let value = answer["SecretString"].as_str().unwrap_or_default();
        let verdict = self.judge_written(index, current.number, value, acknowledged, sent);
        match verdict {
            Err(("stale_read", why)) => self
                .stats
                .fail("lost_write", format!("{name}: AWSCURRENT {why}")),
            Err((kind, why)) => self.stats.fail(kind, format!("{name}: AWSCURRENT {why}")),
            Ok(()) => self.stats.count("written_secrets_verified"),
        }
    }

    /// Waits for the rotations of a rotated secret to settle, then checks its versions.
    async fn check_rotated(&mut self, position: usize) {
        let (index, rotations) = &self.rotated[position];
        let index = *index;
        let slot = Arc::clone(&self.shared.rotated[index]);
        let current = slot.current.read().await;
        if !current.live {
            return;
        }
        let name = &current.name;
        let expected = match &rotations.last {
            Some((version, _)) => version.clone(),
            None => rotations.first_version.clone(),
        };
        let last_sent = rotations.last.as_ref().map(|(_, sent)| *sent);
        let accepted = rotations.accepted;

        let settle_deadline = Instant::now() + SETTLE_TIMEOUT;
        let stages = loop {
            let Some(answer) = self
                .call_ok(Op::Describe, json!({ "SecretId": name }))
                .await
            else {
                return;
            };
            let stages = Stages::of(&answer);
            // The last rotation has recorded its date once it has finished altogether.
            let recorded = last_sent.is_none_or(|sent| {
                answer["LastRotatedDate"]
                    .as_f64()
                    .is_some_and(|date| (date * 1000.0).round() as u128 >= sent)
            });
            if stages.current() == Some(expected.as_str()) && !stages.any_pending() && recorded {
                break stages;
            }
            if Instant::now() >= settle_deadline {
                let what = if stages.any_pending() {
                    "AWSPENDING is still on a version"
                } else if stages.current() != Some(expected.as_str()) {
                    "AWSCURRENT is not on the last accepted rotation's version"
                } else {
                    "the last rotation recorded no LastRotatedDate"
                };
                self.stats.fail(
                    "rotation_unsettled",
                    format!(
                        "{name}: {what} {}s after the last RotateSecret ({accepted} accepted; \
                         stages: {})",
                        SETTLE_TIMEOUT.as_secs(),
                        stages.describe()
                    ),
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if stages.count_of("AWSCURRENT") != 1 || stages.count_of("AWSPREVIOUS") > 1 {
            self.stats.fail(
                "rotation_stages",
                format!("{name}: stages {}", stages.describe()),
            );
        }

        let body = json!({ "SecretId": name, "IncludeDeprecated": true, "MaxResults": 100 });
        if let Some(answer) = self.call_ok(Op::ListVersions, body).await {
            let versions = answer["Versions"].as_array().map_or(0, Vec::len) as u64;
            let least = if accepted > 0 { 2 } else { 1 };
            if versions < least || versions > accepted + 1 {
                self.stats.fail(
                    "rotation_versions",
                    format!("{name}: {versions} versions after {accepted} accepted rotations"),
                );
            }
        }

        let body = json!({ "SecretId": name });
        if let Some(answer) = self.call_ok(Op::Get, body).await {
            let value = answer["SecretString"].as_str().unwrap_or_default();
            let first = self.shared.rotated_value(index, current.number);
            if answer["VersionId"] != expected.as_str()
                || value.is_empty()
                || (accepted > 0) == (value == first)
            {
                self.stats.fail(
                    "rotation_value",
                    format!(
                        "{name}: GetSecretValue answered a version or value that is not the \
                         last rotation's ({accepted} accepted)"
                    ),
                );
            } else {
                self.stats.count("rotated_secrets_verified");
            }
        }
    }

    async fn check_at_end(&mut self) {
        for index in self.written.clone() {
            self.check_written(index).await;
        }
        for position in 0..self.rotated.len() {
            self.check_rotated(position).await;
        }
        for index in self.written.clone() {
            let slot = Arc::clone(&self.shared.written[index]);
            let name = slot.current.read().await.name.clone();
            self.delete(&slot, &name).await;
        }
        for position in 0..self.rotated.len() {
            let slot = Arc::clone(&self.shared.rotated[self.rotated[position].0]);
            let name = slot.current.read().await.name.clone();
            self.delete(&slot, &name).await;
        }
    }
}

/// A DescribeSecret answer's VersionIdsToStages.
struct Stages(BTreeMap<String, Vec<String>>);

impl Stages {
    fn of(answer: &Value) -> Self {
        Self(serde_json::from_value(answer["VersionIdsToStages"].clone()).unwrap_or_default())
    }

    fn with(&self, stage: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(version, _)| version.as_str())
    }

    fn current(&self) -> Option<&str> {
        self.with("AWSCURRENT").next()
    }

    fn any_pending(&self) -> bool {
        self.with("AWSPENDING").next().is_some()
    }

    fn count_of(&self, stage: &str) -> usize {
        self.with(stage).count()
    }

    /// The stages of each version, without the version ids.
    fn describe(&self) -> String {
        let stages: Vec<String> = self.0.values().map(|s| s.join("+")).collect();
        format!("[{}]", stages.join(", "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Get,
    Put,
    Rotate,
    Describe,
    List,
    ListVersions,
    Create,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GetSecretValue",
            Op::Put => "PutSecretValue",
            Op::Rotate => "RotateSecret",
            Op::Describe => "DescribeSecret",
            Op::List => "ListSecrets",
            Op::ListVersions => "ListSecretVersionIds",
            Op::Create => "CreateSecret",
            Op::Delete => "DeleteSecret",
        }
    }
}

#[derive(Debug)]
enum CallError {
    /// An error answer: its `__type` and message.
    Api { code: String, message: String },
    /// No answer: what went wrong (no secret value can be in it).
    Transport(String),
}

/// One keep-alive connection, opened again after a failure.
struct Client {
    target: Arc<Target>,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Client {
    /// Sends `op` with `body`, recording the latency of every answer, error answers too.
    async fn call(&mut self, op: Op, body: Value, stats: &mut Stats) -> Result<Value, CallError> {
        let (sent, timeout) = (Instant::now(), self.timeout);
        let result = tokio::time::timeout(timeout, self.exchange(op, &body))
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Transport(format!(
                    "no answer within {timeout:?}"
                )))
            });
        if matches!(result, Err(CallError::Transport(_))) {
            self.sender = None;
        } else {
            stats.record(op, sent, result.is_ok());
        }
        result
    }

    async fn exchange(&mut self, op: Op, body: &Value) -> Result<Value, CallError> {
        let transport = |what: &str, err: &dyn std::fmt::Display| {
            CallError::Transport(format!("{what}: {err}"))
        };
        if self.sender.as_ref().is_none_or(|sender| sender.is_closed()) {
            let sender = self
                .target
                .connect()
                .await
                .map_err(|err| transport("connecting", &err))?;
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender
            .ready()
            .await
            .map_err(|err| transport("connection", &err))?;
        let request = hyper::Request::post(self.target.path.as_str())
            .header(HOST, self.target.authority())
            .header(CONTENT_TYPE, "application/x-amz-json-1.1")
            .header("x-amz-target", format!("secretsmanager.{}", op.name()))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|err| transport("building the request", &err))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| transport("request", &err))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|err| transport("reading the answer", &err))?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() && answer.is_object() {
            return Ok(answer);
        }
        let code = answer["__type"]
            .as_str()
            .map(|code| code.rsplit('#').next().unwrap_or(code).to_owned())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let message = answer["Message"]
            .as_str()
            .or(answer["message"].as_str())
            .unwrap_or_default()
            .to_owned();
        Err(CallError::Api { code, message })
    }
}

struct OpStats {
    latencies: Histogram<u64>,
    errors: u64,
}

#[derive(Default)]
struct Unexpected {
    count: u64,
    /// The first message, which comes from the gateway or the connection, never a value.
    sample: String,
}

#[derive(Default)]
struct Stats {
    load_end: Option<Instant>,
    /// Answers that arrived during the load.
    load_requests: u64,
    ops: BTreeMap<Op, OpStats>,
    expected: BTreeMap<String, u64>,
    unexpected: BTreeMap<String, Unexpected>,
    counters: BTreeMap<&'static str, u64>,
    failures: BTreeMap<&'static str, u64>,
    notes: Vec<String>,
}

impl Stats {
    fn record(&mut self, op: Op, sent: Instant, ok: bool) {
        let now = Instant::now();
        if self.load_end.is_some_and(|end| now <= end) {
            self.load_requests += 1;
        }
        let stats = self.ops.entry(op).or_insert_with(|| OpStats {
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            errors: 0,
        });
        let micros = now.duration_since(sent).as_micros().max(1) as u64;
        stats.latencies.saturating_record(micros);
        if !ok {
            stats.errors += 1;
        }
    }

    fn expected(&mut self, op: Op, code: &str) {
        *self
            .expected
            .entry(format!("{}:{code}", op.name()))
            .or_default() += 1;
    }

    fn unexpected(&mut self, op: Op, err: &CallError) {
        let (code, message) = match err {
            CallError::Api { code, message } => (code.as_str(), message.as_str()),
            CallError::Transport(what) => ("Transport", what.as_str()),
        };
        let entry = self
            .unexpected
            .entry(format!("{}:{code}", op.name()))
            .or_default();
        if entry.count == 0 {
            entry.sample = message.chars().take(300).collect();
        }
        entry.count += 1;
    }

    fn count(&mut self, what: &'static str) {
        *self.counters.entry(what).or_default() += 1;
    }

    /// A failed check; `note` says which secret and why, never with a value.
    fn fail(&mut self, kind: &'static str, note: String) {
        *self.failures.entry(kind).or_default() += 1;
        if self.notes.len() < MAX_NOTES {
            self.notes.push(format!("{kind}: {note}"));
        }
    }

    fn merge(&mut self, other: Stats) -> anyhow::Result<()> {
        self.load_requests += other.load_requests;
        for (op, theirs) in other.ops {
            match self.ops.get_mut(&op) {
                Some(ours) => {
                    ours.latencies.add(&theirs.latencies)?;
                    ours.errors += theirs.errors;
                }
                None => {
                    self.ops.insert(op, theirs);
                }
            }
        }
        for (key, count) in other.expected {
            *self.expected.entry(key).or_default() += count;
        }
        for (key, theirs) in other.unexpected {
            let ours = self.unexpected.entry(key).or_default();
            if ours.count == 0 {
                ours.sample = theirs.sample;
            }
            ours.count += theirs.count;
        }
        for (key, count) in other.counters {
            *self.counters.entry(key).or_default() += count;
        }
        for (key, count) in other.failures {
            *self.failures.entry(key).or_default() += count;
        }
        let room = MAX_NOTES.saturating_sub(self.notes.len());
        self.notes.extend(other.notes.into_iter().take(room));
        Ok(())
    }

    fn report(
        &self,
        args: &Args,
        shared: &Shared,
        duration: Duration,
        rss: Option<Value>,
    ) -> Value {
        let operations: serde_json::Map<String, Value> = self
            .ops
            .iter()
            .map(|(op, stats)| {
                let latencies = &stats.latencies;
                let summary = json!({
                    "count": latencies.len(),
                    "errors": stats.errors,
                    "p50_us": latencies.value_at_quantile(0.50),
                    "p99_us": latencies.value_at_quantile(0.99),
                    "max_us": latencies.max(),
                });
                (op.name().to_owned(), summary)
            })
            .collect();
        let unexpected: BTreeMap<&String, Value> = self
            .unexpected
            .iter()
            .map(|(key, entry)| (key, json!({ "count": entry.count, "sample": entry.sample })))
            .collect();
        let passed = self.unexpected.is_empty() && self.failures.is_empty();
        json!({
            "label": args.label,
            "seconds": duration.as_secs_f64(),
            "connections": args.connections,
            "secrets": args.secrets,
            "rotated_secrets": args.rotated_secrets,
            "value_marker": shared.marker,
            "requests": self.load_requests,
            "rps": (self.load_requests as f64 / duration.as_secs_f64()).round(),
            "operations": operations,
            "expected_errors": self.expected,
            "unexpected_errors": unexpected,
            "checks": self.counters,
            "rss_kib": rss,
            "verification": {
                "passed": self.failures.is_empty(),
                "failures": self.failures,
                "notes": self.notes,
            },
            "passed": passed,
        })
    }
}

/// Samples a process's VmRSS once a second until finished.
struct RssSampler {
    path: PathBuf,
    started: Instant,
    samples: Arc<Mutex<Vec<(Duration, u64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32, started: Instant) -> Self {
        let path = PathBuf::from(format!("/proc/{pid}/status"));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (path, samples) = (path.clone(), Arc::clone(&samples));
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(1));
                loop {
                    ticks.tick().await;
                    let Ok(kib) = vm_rss_kib(&path) else { return };
                    let sample = (started.elapsed(), kib);
                    samples.lock().expect("not poisoned").push(sample);
                }
            }
        });
        Self {
            path,
            started,
            samples,
            task,
        }
    }

    /// Takes a last sample and summarizes them, in KiB: the first, the first at or after
    /// `warmup`, the highest, the last, and the growth from after the warmup to the last.
    fn finish(self, warmup: Duration, stats: &mut Stats) -> Value {
        self.task.abort();
        let mut samples = std::mem::take(&mut *self.samples.lock().expect("not poisoned"));
        match vm_rss_kib(&self.path) {
            Ok(kib) => samples.push((self.started.elapsed(), kib)),
            Err(err) => stats.fail("rss", format!("{err:#}")),
        }
        let kib = |&(_, kib): &(Duration, u64)| kib;
        let Some(start) = samples.first().map(kib) else {
            return json!({ "samples": 0 });
        };
        let after_warmup = samples
            .iter()
            .find(|(at, _)| *at >= warmup)
            .map_or(start, kib);
        let max = samples.iter().map(kib).max().unwrap_or(start);
        let last = samples.last().map_or(start, kib);
        json!({
            "samples": samples.len(),
            "warmup_seconds": warmup.as_secs_f64(),
            "start": start,
            "after_warmup": after_warmup,
            "max": max,
            "final": last,
            "growth": last as i64 - after_warmup as i64,
        })
    }
}

fn vm_rss_kib(path: &Path) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in {}", path.display()))
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

/// SplitMix64: small, fast and good enough to pick operations and pad values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}
