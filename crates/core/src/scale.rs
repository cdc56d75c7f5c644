//! The scale model (DESIGN §6, DEPLOY "Cost per export"): what an export of N attachments asks of
//! AWS, computed from the state machine definition (its states, as the parent execution walks
//! them, and its Maps' widths) and the code's constants (part and group sizes, segment count,
//! concurrency), with the speeds and prices below as the only assumptions. A test
//! (`tests/tests/scale_model.rs`) fails if any figure crosses an AWS quota; DEPLOY.md's cost table
//! is this model's rendering, and `make bench` records it under `scale`.
//!
//! The local Step Functions enforces the history and payload quotas but not AWS's speeds, so the
//! times here are arithmetic, not measurements; what the local stack can check — the parent's
//! events for a given number of Finalize passes — `tests/tests/pipeline.rs` checks against it.

use serde::Serialize;
use serde_json::Value;

use crate::domain::assembly::{MAX_UPLOAD_PARTS, MIN_PART_BYTES};
use crate::rules::pipeline::{
    DEFAULT_GROUP_PARTS, DEFAULT_LIST_SEGMENTS, DEFAULT_PART_ITEMS, HEAD_CONCURRENCY, MAX_GROUPS, MAX_PARTS,
};

/// AWS's quotas the model is held to.
pub mod quota {
    /// Events in one execution's history (Standard workflows).
    pub const HISTORY_EVENTS: u64 = 25_000;
    /// A state's input or output, and an execution's input.
    pub const PAYLOAD_BYTES: u64 = 256 * 1024;
    /// One Lambda invocation.
    pub const INVOCATION_SECONDS: f64 = 900.0;
    /// Child executions a Distributed Map runs at once.
    pub const MAP_CONCURRENCY: u64 = 10_000;
}

/// What the model assumes of AWS, each with where it comes from.
pub mod assumed {
    /// A manifest row with its download link (~175 B of it): DEPLOY "Assumed sizes".
    pub const MANIFEST_ROW_BYTES: f64 = 525.0;
    /// An inventory line: DEPLOY "Assumed sizes".
    pub const INVENTORY_LINE_BYTES: f64 = 500.0;
    /// A catalog item, for read units: DEPLOY "Assumed sizes".
    pub const CATALOG_ITEM_BYTES: f64 = 400.0;
    /// Catalog rows one segment worker reads a second before any cap (1 MB Query pages of ~2,500
    /// items in tens of milliseconds; conservative).
    pub const QUERY_ROWS_PER_SECOND: f64 = 10_000.0;
    /// A part's fixed work: read its inventory, write its three files, record it.
    pub const PART_FIXED_SECONDS: f64 = 1.0;
    /// Links made a second (`make bench`: the link maker on one core, less than half its rate).
    pub const LINKS_PER_SECOND: f64 = 1_000_000.0;
    /// One HEAD of an attachment from Lambda in the same region.
    pub const HEAD_SECONDS: f64 = 0.015;
    /// S3's GET/HEAD rate per partitioned prefix; an account's objects share its folder.
    pub const HEADS_PER_PREFIX_PER_SECOND: f64 = 5_500.0;
    /// One small S3 request (HEAD, GET of a report, a part copy's round trip).
    pub const S3_REQUEST_SECONDS: f64 = 0.02;
    /// Server-side copy and one reader's GET throughput, bytes a second.
    pub const COPY_BYTES_PER_SECOND: f64 = 100e6;
    pub const READ_BYTES_PER_SECOND: f64 = 100e6;
    /// Prices, us-east-1 (DEPLOY "assumed price").
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const SFN_TRANSITION: f64 = 0.025 / 1_000.0;
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    pub const S3_PUT: f64 = 0.005 / 1_000.0;
    pub const S3_GET: f64 = 0.0004 / 1_000.0;
    pub const S3_GB_MONTH: f64 = 0.023;
    /// The links' lifetime from their signing (`UrlExpirySeconds`' default: 6 days).
    pub const URL_EXPIRY_SECONDS: f64 = 518_400.0;
    /// How long the files stay: 7 days of a month.
    pub const STORED_MONTHS: f64 = 7.0 / 30.0;
}

/// The deployment the model is of: the state machine's shape and widths, and the functions'
/// settings. `from_asl` takes the definition's; the rest are the code's and template's defaults
/// (`tests/tests/template_consistency.rs` keeps those equal).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The parent's states in the order a delivered export enters them; `FINALIZE_LOOP` marks
    /// the states entered once per Finalize pass.
    #[serde(skip)]
    parent_path: Vec<(String, StateKind, bool)>,
    pub timeout_seconds: f64,
    pub segment_workers: u64,
    pub part_workers: u64,
    pub group_workers: u64,
    pub part_items: u64,
    pub segments: u64,
    pub group_parts: u64,
    pub head_concurrency: u64,
    /// `MaxReadRate`: catalog rows an export reads a second (0: no cap).
    pub max_read_rate: u64,
    /// `MaxCheckRate`: attachment HEADs an export makes a second (0: no cap).
    pub max_check_rate: u64,
    /// Lambda memory, GB: enumerate-attachments, write-manifest.
    pub enumerate_gb: f64,
    pub write_gb: f64,
}

/// The template's defaults the model is of (`MaxReadRate`; the two functions' `MemorySize`, in MB:
/// Lambda bills a GB as 1,024 of them). `tests/tests/scale_model.rs` keeps them the template's.
pub const DEFAULT_MAX_READ_RATE: u64 = 20_000;
pub const DEFAULT_MAX_CHECK_RATE: u64 = 20_000;

/// Whether and how fast an export checks its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Checks {
    /// `"verifyObjects": false`: the bucket and folder checks only.
    Unchecked,
    /// A HEAD per attachment at `MaxCheckRate`, the account's objects spread over prefixes that S3
    /// has partitioned to serve it.
    Checked,
    /// A HEAD per attachment on one S3 prefix: at most 5,500 a second, however the rate is set.
    OnePrefix,
}
pub const ENUMERATE_MEMORY_MB: u64 = 1_024;
pub const WRITE_MANIFEST_MEMORY_MB: u64 = 1_769;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateKind {
    Task,
    Map,
    Choice,
    Succeed,
    Other,
}

impl StateKind {
    /// The events a state adds to its execution's history when it runs once and succeeds (as the
    /// local history shows them, and AWS's does): a Lambda Task entered, scheduled, started,
    /// succeeded, exited; a Distributed Map entered, started, its Map Run started and succeeded,
    /// succeeded, exited.
    fn events(self) -> u64 {
        match self {
            StateKind::Task => 5,
            StateKind::Map => 6,
            StateKind::Choice | StateKind::Succeed | StateKind::Other => 2,
        }
    }
}

fn kind(state: &Value) -> StateKind {
    match state["Type"].as_str() {
        Some("Task") => StateKind::Task,
        Some("Map") => StateKind::Map,
        Some("Choice") => StateKind::Choice,
        Some("Succeed") => StateKind::Succeed,
        _ => StateKind::Other,
    }
}

/// The states a delivered export enters, from `StartAt` along each state's `Next` (a Choice's
/// `Default`, its way out), marking those on a loop back (a Choice whose rule points at an
/// earlier state) as entered once per pass.
fn success_path(states: &Value, start: &str) -> Vec<(String, StateKind, bool)> {
    let mut path: Vec<(String, StateKind, bool)> = Vec::new();
    let mut at = Some(start.to_owned());
    while let Some(name) = at {
        let state = &states[name.as_str()];
        let k = kind(state);
        if k == StateKind::Choice {
            let back = state["Choices"][0]["Next"].as_str().unwrap_or_default();
            if let Some(first) = path.iter().position(|(n, _, _)| n == back) {
                for entry in &mut path[first..] {
                    entry.2 = true;
                }
            }
            path.push((name.clone(), k, true));
            at = state["Default"].as_str().map(str::to_owned);
        } else {
            path.push((name.clone(), k, false));
            at = if state["End"].as_bool() == Some(true) {
                None
            } else {
                state["Next"].as_str().map(str::to_owned)
            };
        }
        if path.len() > 64 {
            break;
        }
    }
    path
}

impl Deployment {
    /// The deployment of `asl` (the state machine definition) with the code's and template's
    /// defaults.
    pub fn from_asl(asl: &Value) -> Self {
        let states = &asl["States"];
        let width = |map: &str| states[map]["MaxConcurrency"].as_u64().unwrap_or(0);
        Self {
            parent_path: success_path(states, asl["StartAt"].as_str().unwrap_or_default()),
            timeout_seconds: asl["TimeoutSeconds"].as_f64().unwrap_or(0.0),
            segment_workers: width("ListSegments"),
            part_workers: width("WriteParts"),
            group_workers: width("AssembleGroups"),
            part_items: DEFAULT_PART_ITEMS as u64,
            segments: u64::from(DEFAULT_LIST_SEGMENTS),
            group_parts: u64::from(DEFAULT_GROUP_PARTS),
            head_concurrency: HEAD_CONCURRENCY as u64,
            max_read_rate: DEFAULT_MAX_READ_RATE,
            max_check_rate: DEFAULT_MAX_CHECK_RATE,
            enumerate_gb: ENUMERATE_MEMORY_MB as f64 / 1024.0,
            write_gb: WRITE_MANIFEST_MEMORY_MB as f64 / 1024.0,
        }
    }

    /// Events in the parent's history of a delivered export whose Finalize took `passes` passes.
    pub fn parent_events(&self, passes: u64) -> u64 {
        // ExecutionStarted and ExecutionSucceeded, then each state on the way.
        2 + self
            .parent_path
            .iter()
            .map(|(_, k, looped)| k.events() * if *looped { passes } else { 1 })
            .sum::<u64>()
    }

    /// State transitions of the parent (one per state entered).
    fn parent_transitions(&self, passes: u64) -> u64 {
        self.parent_path.iter().map(|(_, _, looped)| if *looped { passes } else { 1 }).sum()
    }

    /// The model of an export of `n` attachments, with its object checks as `checks` says.
    pub fn export(&self, n: u64, checks: Checks) -> Scale {
        let checked = checks != Checks::Unchecked;
        use assumed::*;
        let nf = n as f64;
        // Listing: equal slices of time; an account's uploads are not spread evenly, so the
        // largest segment is taken as twice the mean.
        let segments = if n <= self.part_items { 1 } else { self.segments };
        let rate = match self.max_read_rate {
            0 => QUERY_ROWS_PER_SECOND * self.segment_workers as f64,
            cap => (cap as f64).min(QUERY_ROWS_PER_SECOND * self.segment_workers as f64),
        };
        let per_worker = rate / self.segment_workers.min(segments) as f64;
        let largest_segment = if segments == 1 { nf } else { 2.0 * nf / segments as f64 };
        let pass_seconds = quota::INVOCATION_SECONDS - 60.0;
        let segment_passes = (largest_segment / per_worker / pass_seconds).ceil().max(1.0) as u64;
        let all_passes: u64 = ((nf / per_worker / pass_seconds).ceil() as u64).max(segments);
        let listing_seconds = (nf / rate).max(largest_segment / per_worker);

        // Parts: each segment's last one is short.
        let parts = n.div_ceil(self.part_items) + segments.saturating_sub(1).min(n);
        let part_rows = self.part_items.min(n) as f64;
        let mut head_rate = (self.head_concurrency as f64 / HEAD_SECONDS) * self.part_workers as f64;
        if self.max_check_rate > 0 {
            head_rate = head_rate.min(self.max_check_rate as f64);
        }
        if checks == Checks::OnePrefix {
            head_rate = head_rate.min(HEADS_PER_PREFIX_PER_SECOND);
        }
        let part_seconds = PART_FIXED_SECONDS
            + part_rows / LINKS_PER_SECOND
            + if checked { part_rows * self.part_workers as f64 / head_rate } else { 0.0 };
        let parts_seconds = (parts as f64 / self.part_workers as f64).ceil() * part_seconds;

        // Groups, then Finalize: copies, then one reader hashing the manifest in passes.
        let groups = parts.div_ceil(self.group_parts);
        let manifest_bytes = nf * MANIFEST_ROW_BYTES;
        let part_bytes = part_rows * MANIFEST_ROW_BYTES;
        let group_bytes = part_bytes * self.group_parts.min(parts) as f64;
        let group_seconds = 1.0
            + self.group_parts.min(parts) as f64 * 3.0 * S3_REQUEST_SECONDS / 8.0
            + group_bytes / COPY_BYTES_PER_SECOND / 8.0;
        let groups_seconds = (groups as f64 / self.group_workers as f64).ceil() * group_seconds;
        let copy_seconds = 1.0 + groups as f64 * group_bytes / COPY_BYTES_PER_SECOND / 8.0;
        let hash_seconds = manifest_bytes / READ_BYTES_PER_SECOND;
        let pass_budget = quota::INVOCATION_SECONDS - 120.0;
        let finalize_passes = ((copy_seconds + hash_seconds) / pass_budget).ceil().max(1.0) as u64;
        let finalize_seconds = copy_seconds + hash_seconds + 5.0;
        let wall_seconds = 5.0 + listing_seconds + parts_seconds + groups_seconds + finalize_seconds;
        // The links are signed when Close numbers the parts, just after the listing.
        let links_left_seconds = URL_EXPIRY_SECONDS - (wall_seconds - listing_seconds - 5.0);
        let longest = [
            pass_seconds.min(largest_segment / per_worker),
            part_seconds,
            group_seconds,
            // The first Finalize pass copies every group before it hashes (not resumable).
            copy_seconds,
        ]
        .into_iter()
        .fold(0.0, f64::max);

        // Histories: a segment's child loops ListSegment → SegmentListed; a part's and a group's
        // child is one Task.
        let parent_events = self.parent_events(finalize_passes);
        let segment_child_events =
            2 + segment_passes * (StateKind::Task.events() + StateKind::Choice.events()) + 2;
        let largest_child_events = segment_child_events.max(2 + StateKind::Task.events());
        let executions = 1 + segments + parts + groups;
        let invocations = 1 + all_passes + 1 + parts + groups + finalize_passes;
        let transitions =
            self.parent_transitions(finalize_passes) + 2 * all_passes + segments + parts + groups;

        // Cost.
        let lambda_seconds_enumerate = 1.0 + nf / QUERY_ROWS_PER_SECOND + 1.0;
        let lambda_seconds_write =
            parts as f64 * part_seconds + groups as f64 * group_seconds + finalize_seconds;
        let lambda = (lambda_seconds_enumerate * self.enumerate_gb + lambda_seconds_write * self.write_gb)
            * LAMBDA_GB_SECOND
            + invocations as f64 * LAMBDA_REQUEST;
        let step_functions = transitions as f64 * SFN_TRANSITION;
        // Catalog reads (eventually consistent: half a unit per 4 KB); per part, its segment's
        // checkpoint and its PART# item, each a two-item transaction (2 units an item).
        let dynamodb = nf * CATALOG_ITEM_BYTES / 4096.0 * 0.5 * DYNAMODB_READ_UNIT
            + parts as f64 * 8.0 * DYNAMODB_WRITE_UNIT;
        // PUT class: per part its inventory part, three files and a group copy; per group three
        // files and a final copy; a handful per export. GET class: per part an inventory read,
        // two HEADs and a report; per group a report; the hash's ranged reads; the checks' HEADs.
        let puts = parts * 5 + groups * 4 + 12;
        let hash_reads = (manifest_bytes / 8.0 / 1024.0 / 1024.0).ceil() as u64;
        let gets = parts * 4 + groups * 2 + hash_reads + if checked { n } else { 0 };
        let s3_requests = puts as f64 * S3_PUT + gets as f64 * S3_GET;
        let s3_storage = manifest_bytes / 1e9 * S3_GB_MONTH * STORED_MONTHS;
        let total = lambda + step_functions + dynamodb + s3_requests + s3_storage;

        // The largest state document: the parent's, at its end (job, plan, enumeration, result).
        let largest_payload = largest_payload();
        let upload_parts = (2 * groups + 1).min(manifest_bytes as u64 / MIN_PART_BYTES + groups + 1);
        Scale {
            attachments: n,
            checks,
            segments,
            parts,
            groups,
            finalize_passes,
            parent_events,
            largest_child_events,
            largest_payload_bytes: largest_payload,
            executions,
            invocations,
            transitions,
            longest_invocation_seconds: longest.round(),
            wall_seconds: wall_seconds.round(),
            links_left_seconds: links_left_seconds.round(),
            manifest_bytes: manifest_bytes as u64,
            manifest_upload_parts: upload_parts,
            cost: Cost {
                lambda: round(lambda),
                step_functions: round(step_functions),
                dynamodb: round(dynamodb),
                s3_requests: round(s3_requests),
                s3_storage: round(s3_storage),
                total: round(total),
            },
        }
    }

    /// What crosses a quota or a ceiling of the code in `scale`, as sentences; empty when none does.
    pub fn crossings(&self, scale: &Scale) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                out.push(what);
            }
        };
        check(
            scale.parent_events < quota::HISTORY_EVENTS,
            format!("parent history {} events", scale.parent_events),
        );
        check(
            scale.largest_child_events < quota::HISTORY_EVENTS,
            format!("a child's history {} events", scale.largest_child_events),
        );
        check(
            scale.largest_payload_bytes < quota::PAYLOAD_BYTES,
            format!("payload {} bytes", scale.largest_payload_bytes),
        );
        check(
            scale.longest_invocation_seconds < quota::INVOCATION_SECONDS,
            format!("an invocation of {} s", scale.longest_invocation_seconds),
        );
        check(
            scale.wall_seconds < self.timeout_seconds,
            format!("{} s, past the execution's TimeoutSeconds", scale.wall_seconds),
        );
        check(
            scale.links_left_seconds >= 86_400.0,
            format!("links that work {} s after delivery, under a day", scale.links_left_seconds),
        );
        for width in [self.segment_workers, self.part_workers, self.group_workers] {
            check(width <= quota::MAP_CONCURRENCY, format!("a Map {width} wide"));
        }
        check(scale.groups <= u64::from(MAX_GROUPS), format!("{} assembly groups", scale.groups));
        check(scale.parts <= u64::from(MAX_PARTS), format!("{} parts", scale.parts));
        check(
            scale.manifest_upload_parts <= MAX_UPLOAD_PARTS as u64,
            format!("{} upload parts", scale.manifest_upload_parts),
        );
        out
    }
}

fn round(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

/// The parent's state document at its end, with the longest values each field can take.
fn largest_payload() -> u64 {
    let job = serde_json::json!({
        "accountId": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", "exportId": "01KAW6ZQ5V0000000000000000",
        "cutoff": "2026-11-24T10:00:00.000Z", "since": "2026-11-17T10:00:00.000Z", "format": "jsonl",
        "verifyObjects": false,
    });
    let bucket = "x".repeat(63);
    let key = format!(
        "exports/{}/{}/inventory/segments.json",
        "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f", "01KAW6ZQ5V0000000000000000"
    );
    let document = serde_json::json!({
        "job": job,
        "plan": {"segments": u32::MAX, "segmentsBucket": bucket, "segmentsKey": key},
        "enumeration": {"done": true, "partCount": u32::MAX, "listed": u64::MAX, "partsBucket": bucket,
            "partsKey": key, "groupsKey": key, "signedAt": "2026-11-24T10:00:00.000Z"},
        "result": {"finished": true, "status": "SUCCEEDED_WITH_ERRORS", "attachmentCount": u64::MAX,
            "errorCount": u64::MAX, "manifestKey": key, "manifestBytes": u64::MAX},
    });
    serde_json::to_vec(&document).map_or(u64::MAX, |v| v.len() as u64)
}

/// What an export of `attachments` asks of AWS.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    pub attachments: u64,
    pub checks: Checks,
    pub segments: u64,
    pub parts: u64,
    pub groups: u64,
    pub finalize_passes: u64,
    pub parent_events: u64,
    pub largest_child_events: u64,
    pub largest_payload_bytes: u64,
    pub executions: u64,
    pub invocations: u64,
    pub transitions: u64,
    pub longest_invocation_seconds: f64,
    pub wall_seconds: f64,
    /// How long the manifest's links still work once it is delivered.
    pub links_left_seconds: f64,
    pub manifest_bytes: u64,
    pub manifest_upload_parts: u64,
    pub cost: Cost,
}

/// USD per export, on AWS's list prices ([`assumed`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub lambda: f64,
    pub step_functions: f64,
    pub dynamodb: f64,
    pub s3_requests: f64,
    pub s3_storage: f64,
    pub total: f64,
}

/// The sizes the model is shown for.
pub const SIZES: [u64; 4] = [1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// The model for [`SIZES`]: unchecked, checked, checked on one prefix.
pub fn table(deployment: &Deployment) -> Vec<Scale> {
    [Checks::Unchecked, Checks::Checked, Checks::OnePrefix]
        .into_iter()
        .flat_map(|checks| SIZES.map(|n| deployment.export(n, checks)))
        .collect()
}

/// DEPLOY.md's table of the model (`tests/tests/scale_model.rs` keeps DEPLOY's copy equal).
pub fn markdown(deployment: &Deployment) -> String {
    let rows = table(deployment);
    let head: Vec<String> = SIZES.iter().map(|n| format_count(*n)).collect();
    let mut out =
        format!("| per export | {} |\n| --- |{}\n", head.join(" | "), " ---: |".repeat(SIZES.len()));
    let unchecked = &rows[..SIZES.len()];
    let checked = &rows[SIZES.len()..2 * SIZES.len()];
    let one_prefix = &rows[2 * SIZES.len()..];
    let line = |out: &mut String, name: &str, f: &dyn Fn(&Scale) -> String, rows: &[Scale]| {
        let cells: Vec<String> = rows.iter().map(f).collect();
        out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    };
    line(
        &mut out,
        "segments / parts / groups",
        &|s| format!("{} / {} / {}", s.segments, s.parts, s.groups),
        unchecked,
    );
    line(&mut out, "Finalize passes", &|s| s.finalize_passes.to_string(), unchecked);
    line(&mut out, "parent's history (events)", &|s| s.parent_events.to_string(), unchecked);
    line(&mut out, "largest child's history (events)", &|s| s.largest_child_events.to_string(), unchecked);
    line(&mut out, "largest payload (bytes)", &|s| s.largest_payload_bytes.to_string(), unchecked);
    line(
        &mut out,
        "executions / invocations",
        &|s| format!("{} / {}", s.executions, s.invocations),
        unchecked,
    );
    line(&mut out, "longest invocation", &|s| format!("{} s", s.longest_invocation_seconds), unchecked);
    line(&mut out, "wall time, unchecked", &|s| hours(s.wall_seconds), unchecked);
    line(&mut out, "wall time, objects checked (`MaxCheckRate`)", &|s| hours(s.wall_seconds), checked);
    line(&mut out, "wall time, objects checked on one S3 prefix", &|s| hours(s.wall_seconds), one_prefix);
    line(&mut out, "links' life left at delivery (one prefix)", &|s| hours(s.links_left_seconds), one_prefix);
    line(&mut out, "Lambda", &|s| usd(s.cost.lambda), unchecked);
    line(&mut out, "Step Functions", &|s| usd(s.cost.step_functions), unchecked);
    line(&mut out, "DynamoDB", &|s| usd(s.cost.dynamodb), unchecked);
    line(&mut out, "S3 requests, unchecked", &|s| usd(s.cost.s3_requests), unchecked);
    line(&mut out, "S3 requests, objects checked", &|s| usd(s.cost.s3_requests), checked);
    line(&mut out, "S3 storage (7 days)", &|s| usd(s.cost.s3_storage), unchecked);
    line(&mut out, "**total, unchecked**", &|s| format!("**{}**", usd(s.cost.total)), unchecked);
    line(&mut out, "**total, objects checked**", &|s| format!("**{}**", usd(s.cost.total)), checked);
    out
}

fn format_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{}B", n / 1_000_000_000),
        n => format!("{}M", n / 1_000_000),
    }
}

fn hours(seconds: f64) -> String {
    if seconds < 3_600.0 {
        format!("{:.0} min", (seconds / 60.0).ceil())
    } else {
        format!("{:.1} h", seconds / 3_600.0)
    }
}

fn usd(v: f64) -> String {
    if v >= 10.0 {
        format!("${v:.0}")
    } else if v >= 0.1 {
        format!("${v:.2}")
    } else {
        format!("${v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::pipeline::SEGMENT_WORKERS;

    fn asl() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/statemachine/export.asl.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The path is the definition's, and the Finalize loop is what repeats.
    #[test]
    fn the_parent_path_is_the_definitions_and_only_finalize_repeats() {
        let d = Deployment::from_asl(&asl());
        let names: Vec<&str> = d.parent_path.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Plan",
                "ListSegments",
                "Close",
                "WriteParts",
                "AssembleGroups",
                "Finalize",
                "FinalizeDone",
                "Delivered"
            ]
        );
        let looped: Vec<&str> =
            d.parent_path.iter().filter(|(_, _, l)| *l).map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(looped, ["Finalize", "FinalizeDone"]);
        assert_eq!(d.parent_events(2) - d.parent_events(1), 7, "a Finalize pass: a Task and a Choice");
        assert_eq!((d.segment_workers, d.part_workers, d.group_workers), (8, 8, 8));
        assert_eq!(d.segment_workers, u64::from(SEGMENT_WORKERS));
    }

    /// More attachments never cost less, take less time or fewer parts.
    #[test]
    fn the_model_grows_with_the_export() {
        let d = Deployment::from_asl(&asl());
        let rows = table(&d);
        for pair in rows[..SIZES.len()].windows(2) {
            assert!(pair[1].parts > pair[0].parts && pair[1].wall_seconds > pair[0].wall_seconds);
            assert!(pair[1].cost.total > pair[0].cost.total);
        }
        for (unchecked, checked) in rows[..SIZES.len()].iter().zip(&rows[SIZES.len()..]) {
            assert!(
                checked.wall_seconds > unchecked.wall_seconds && checked.cost.total > unchecked.cost.total
            );
        }
    }
}
