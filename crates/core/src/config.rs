//! Typed configuration (DESIGN §10), read once at cold start. A bad or missing value fails fast with
//! the variable's name, so an operator sees `URL_EXPIRY_SECONDS: …` in the init error, not a panic
//! deep in a handler. Local endpoints are the SDK's own `AWS_ENDPOINT_URL_<SERVICE>` variables and
//! need nothing here.

use std::time::Duration;

use crate::domain::error::Error;
use crate::domain::key_layout::KeyLayout;

/// SigV4's longest pre-signed URL lifetime.
pub const SIGV4_MAX_EXPIRY: Duration = Duration::from_secs(604_800);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    // Each function needs only some of the resources: each is checked where it is used, at cold
    // start, by its accessor (e.g. [`Config::export_bucket`]), which names the variable if it is
    // missing. So a function that writes no manifest does not require the export bucket.
    accounts_table: Option<String>,
    attachments_table: Option<String>,
    exports_table: Option<String>,
    export_bucket: Option<String>,
    /// The chat service's attachment buckets (`ATTACHMENT_BUCKETS`, comma-separated): only their
    /// objects are ever signed.
    attachment_buckets: Option<Vec<String>>,
    attachment_key_layout: Option<KeyLayout>,
    /// The asymmetric KMS key that signs export statements (write-manifest; DESIGN §14).
    statement_key_id: Option<String>,
    user_pool_id: Option<String>,
    /// The functions that start exports (start-export, start-export-api, sweep-exports); the state
    /// machine's own functions cannot have it without a circular stack dependency.
    state_machine_arn: Option<String>,
    /// The console's origin (`CONSOLE_ORIGIN`, e.g. `https://d111111abcdef8.cloudfront.net`): the
    /// one origin the API's replies allow (CORS). Absent: no CORS header at all.
    pub console_origin: Option<String>,
    /// The HMAC KMS keys of download links (`LINK_KEY_IDS`, comma-separated, oldest first; a
    /// link's `kid` n is the n-th, the last makes new links).
    link_key_ids: Option<Vec<String>>,
    /// The download function's URL (`DOWNLOAD_BASE_URL`): every link of a manifest starts with it.
    download_base_url: Option<String>,
    /// The EventBridge bus of the Assistant's replies (`ASSISTANT_REPLY_BUS`, DESIGN §15).
    assistant_reply_bus: Option<String>,
    /// The lifetime of the S3 URL a link redirects to (`REDIRECT_URL_SECONDS`, 1–300).
    pub redirect_url: Duration,
    /// How long the download function trusts an export's record before reading it again
    /// (`LINK_STATE_CACHE_SECONDS`, 0–60): the bound on a revocation's delay, with `redirect_url`.
    pub link_state_cache: Duration,
    pub url_expiry: Duration,
    pub throttle_window: Duration,
    pub manifest_link: Duration,
    /// Attachments per inventory part.
    pub part_items: usize,
    /// How many segments the Plan step splits a listing into (`LIST_SEGMENTS`): more than the
    /// ListSegments Map's workers, so a dense slice of time does not hold the others up for long.
    pub list_segments: u32,
    /// The most catalog rows an export reads a second, all its segments together (`MAX_READ_RATE`;
    /// 0: no cap). AttachmentsTable is the chat service's production table.
    pub max_read_rate: u32,
    /// The most attachments an export HEADs a second, its parts together (`MAX_CHECK_RATE`; 0: no
    /// cap): the attachment bucket serves 5,500 a second per partitioned prefix.
    pub max_check_rate: u32,
    /// Manifest parts per assembly group (`ASSEMBLY_GROUP_PARTS`, 1–4999): the size of each
    /// AssembleGroups child's work, and with `MAX_GROUPS` the ceiling of an export's parts.
    pub assembly_group_parts: u32,
    /// At most this many bytes hashed per Finalize pass (`FINALIZE_PASS_BYTES`; unset or 0: as many
    /// as the invocation's time allows). The local stack sets it to see the Finalize loop.
    pub finalize_pass_bytes: Option<u64>,
    pub s3_force_path_style: bool,
    /// Whether a request may skip the object checks (`"verifyObjects": false`): the operator's
    /// choice (`ALLOW_UNCHECKED_EXPORTS`), off unless set.
    pub allow_unchecked_exports: bool,
    /// `SELF_SERVICE_ENABLED`: users whom no account manages may export their own files (DESIGN
    /// §15). Off unless set.
    pub self_service_enabled: bool,
    /// Whether the daily schedule starts exports for opted-in accounts (it always closes stuck ones).
    pub scheduled_exports: bool,
    /// sweep-exports' two EventBridge rules, by name: the daily rule begins a sweep, the resume rule
    /// continues an unfinished one. Checked where used: [`Config::sweep_rules`].
    sweep_rule_name: Option<String>,
    sweep_resume_rule_name: Option<String>,
    /// At most this many accounts (and stuck-export candidates) per sweep invocation, besides the
    /// time budget; `None`: the time budget alone.
    pub sweep_max_items: Option<u32>,
    /// At most this many of a sweep's exports in flight at once (`SWEEP_MAX_RUNNING`; the
    /// template: `ConcurrentExports`); `None`: no cap.
    pub sweep_max_running: Option<u32>,
    pub log_format: LogFormat,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration: environment variable {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Configuration(e.to_string())
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let url_expiry = vars.seconds("URL_EXPIRY_SECONDS", 518_400, 1)?;
        if url_expiry > SIGV4_MAX_EXPIRY {
            return Err(ConfigError {
                variable: "URL_EXPIRY_SECONDS",
                problem: format!(
                    "is {} but SigV4 pre-signed URLs live at most 604800 seconds (7 days)",
                    url_expiry.as_secs()
                ),
            });
        }
        let manifest_link = vars.seconds("MANIFEST_LINK_SECONDS", 900, 1)?;
        if manifest_link > SIGV4_MAX_EXPIRY {
            return Err(ConfigError {
                variable: "MANIFEST_LINK_SECONDS",
                problem: "must be at most 604800 seconds (SigV4's maximum)".into(),
            });
        }
        let log_format = match vars.optional("LOG_FORMAT")?.as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            None if vars.optional("AWS_LAMBDA_FUNCTION_NAME")?.is_some() => LogFormat::Json,
            None => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError {
                    variable: "LOG_FORMAT",
                    problem: format!("must be json or text, not {other:?}"),
                });
            }
        };
        Ok(Self {
            accounts_table: vars.optional("ACCOUNTS_TABLE")?,
            attachments_table: vars.optional("ATTACHMENTS_TABLE")?,
            exports_table: vars.optional("EXPORTS_TABLE")?,
            export_bucket: vars.optional("EXPORT_BUCKET")?,
            attachment_buckets: vars
                .optional("ATTACHMENT_BUCKETS")?
                .map(|v| v.split(',').map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned).collect()),
            attachment_key_layout: vars
                .optional("ATTACHMENT_KEY_LAYOUT")?
                .map(|v| KeyLayout::parse(&v))
                .transpose()
                .map_err(|problem| ConfigError { variable: "ATTACHMENT_KEY_LAYOUT", problem })?,
            statement_key_id: vars.optional("STATEMENT_KEY_ID")?,
            user_pool_id: vars.optional("USER_POOL_ID")?,
            state_machine_arn: vars.optional("STATE_MACHINE_ARN")?,
            console_origin: vars.optional("CONSOLE_ORIGIN")?.map(console_origin).transpose()?,
            link_key_ids: vars
                .optional("LINK_KEY_IDS")?
                .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()),
            download_base_url: vars.optional("DOWNLOAD_BASE_URL")?.map(download_base_url).transpose()?,
            assistant_reply_bus: vars.optional("ASSISTANT_REPLY_BUS")?,
            redirect_url: Duration::from_secs(vars.number("REDIRECT_URL_SECONDS", 45, 1, 300)?),
            link_state_cache: Duration::from_secs(vars.number("LINK_STATE_CACHE_SECONDS", 5, 0, 60)?),
            url_expiry,
            throttle_window: vars.seconds("THROTTLE_WINDOW_SECONDS", 604_800, 1)?,
            manifest_link,
            part_items: vars.number(
                "PART_ITEMS",
                crate::rules::pipeline::DEFAULT_PART_ITEMS as u64,
                1,
                1_000_000,
            )? as usize,
            list_segments: vars.number(
                "LIST_SEGMENTS",
                u64::from(crate::rules::pipeline::DEFAULT_LIST_SEGMENTS),
                1,
                u64::from(crate::rules::pipeline::MAX_SEGMENTS),
            )? as u32,
            max_read_rate: vars.number("MAX_READ_RATE", 0, 0, 10_000_000)? as u32,
            max_check_rate: vars.number("MAX_CHECK_RATE", 0, 0, 10_000_000)? as u32,
            assembly_group_parts: vars.number(
                "ASSEMBLY_GROUP_PARTS",
                u64::from(crate::rules::pipeline::DEFAULT_GROUP_PARTS),
                1,
                u64::from(crate::rules::pipeline::MAX_GROUP_PARTS),
            )? as u32,
            // 0, like unset: no cap.
            finalize_pass_bytes: Some(vars.number("FINALIZE_PASS_BYTES", 0, 0, u64::MAX)?).filter(|n| *n > 0),
            s3_force_path_style: vars.flag("S3_FORCE_PATH_STYLE")?,
            allow_unchecked_exports: vars.flag("ALLOW_UNCHECKED_EXPORTS")?,
            self_service_enabled: vars.flag("SELF_SERVICE_ENABLED")?,
            scheduled_exports: vars.optional("SCHEDULED_EXPORTS")?.is_none()
                || vars.flag("SCHEDULED_EXPORTS")?,
            sweep_rule_name: vars.optional("SWEEP_RULE_NAME")?,
            sweep_resume_rule_name: vars.optional("SWEEP_RESUME_RULE_NAME")?,
            sweep_max_items: match vars.optional("SWEEP_MAX_ITEMS_PER_INVOCATION")? {
                Some(_) => Some(vars.number("SWEEP_MAX_ITEMS_PER_INVOCATION", 0, 1, 10_000_000)? as u32),
                None => None,
            },
            sweep_max_running: match vars.optional("SWEEP_MAX_RUNNING")? {
                Some(_) => Some(vars.number("SWEEP_MAX_RUNNING", 0, 1, 100_000)? as u32),
                None => None,
            },
            log_format,
        })
    }

    /// The names of sweep-exports' daily and resume rules; missing is a configuration error.
    pub fn sweep_rules(&self) -> Result<(&str, &str), ConfigError> {
        let missing =
            |variable| ConfigError { variable, problem: "is required by sweep-exports but not set".into() };
        Ok((
            self.sweep_rule_name.as_deref().ok_or_else(|| missing("SWEEP_RULE_NAME"))?,
            self.sweep_resume_rule_name.as_deref().ok_or_else(|| missing("SWEEP_RESUME_RULE_NAME"))?,
        ))
    }

    /// The state machine the starting functions start.
    pub fn state_machine_arn(&self) -> Result<&str, ConfigError> {
        required(&self.state_machine_arn, "STATE_MACHINE_ARN")
    }

    /// AccountsTable: the directory (every function that reads an account).
    pub fn accounts_table(&self) -> Result<&str, ConfigError> {
        required(&self.accounts_table, "ACCOUNTS_TABLE")
    }

    /// AttachmentsTable: the catalog (enumerate-attachments only).
    pub fn attachments_table(&self) -> Result<&str, ConfigError> {
        required(&self.attachments_table, "ATTACHMENTS_TABLE")
    }

    /// ExportsTable: records, windows and the sweep record.
    pub fn exports_table(&self) -> Result<&str, ConfigError> {
        required(&self.exports_table, "EXPORTS_TABLE")
    }

    /// The export bucket (the functions that write or hand out manifests).
    pub fn export_bucket(&self) -> Result<&str, ConfigError> {
        required(&self.export_bucket, "EXPORT_BUCKET")
    }

    /// The KMS key (id, ARN or alias) that signs statements (write-manifest).
    /// The console's user pool (the API functions name the person behind a console request).
    pub fn user_pool_id(&self) -> Result<&str, ConfigError> {
        required(&self.user_pool_id, "USER_POOL_ID")
    }

    pub fn statement_key_id(&self) -> Result<&str, ConfigError> {
        required(&self.statement_key_id, "STATEMENT_KEY_ID")
    }

    /// Where each account's objects are in the attachment buckets (write-manifest): a prefix
    /// pattern with `{accountId}`.
    pub fn attachment_key_layout(&self) -> Result<KeyLayout, ConfigError> {
        self.attachment_key_layout.clone().ok_or(ConfigError {
            variable: "ATTACHMENT_KEY_LAYOUT",
            problem: "is required by this function but not set".into(),
        })
    }

    /// The attachment buckets whose objects may be signed (write-manifest).
    /// The link keys, oldest first: one to 255 (a token's `kid` is one byte).
    pub fn link_key_ids(&self) -> Result<&[String], ConfigError> {
        match self.link_key_ids.as_deref() {
            Some(keys) if (1..=255).contains(&keys.len()) => Ok(keys),
            Some(_) => Err(ConfigError {
                variable: "LINK_KEY_IDS",
                problem: "must name one to 255 KMS keys, comma-separated".into(),
            }),
            None => {
                Err(ConfigError { variable: "LINK_KEY_IDS", problem: "is required here but not set".into() })
            }
        }
    }

    pub fn download_base_url(&self) -> Result<&str, ConfigError> {
        required(&self.download_base_url, "DOWNLOAD_BASE_URL")
    }

    pub fn assistant_reply_bus(&self) -> Result<&str, ConfigError> {
        required(&self.assistant_reply_bus, "ASSISTANT_REPLY_BUS")
    }

    pub fn attachment_buckets(&self) -> Result<&[String], ConfigError> {
        match &self.attachment_buckets {
            Some(buckets) if !buckets.is_empty() => Ok(buckets),
            _ => Err(ConfigError {
                variable: "ATTACHMENT_BUCKETS",
                problem: "is required by this function but not set".into(),
            }),
        }
    }
}

/// A resource variable this function needs: missing is a configuration error naming it.
/// The download function's URL, without a trailing slash: https, or http on the loopback (the
/// local stack). A link is this, `/f/`, and its token.
fn download_base_url(raw: String) -> Result<String, ConfigError> {
    let url = raw.trim_end_matches('/');
    let loopback = ["http://127.0.0.1:", "http://localhost:"].iter().any(|p| url.starts_with(p));
    let host = url.strip_prefix("https://").filter(|h| !h.is_empty());
    let plain = |h: &str| !h.contains(['/', '?', '#', '@', ' ']);
    if host.is_some_and(plain) || (loopback && plain(url.split_once("://").map_or("", |(_, h)| h))) {
        Ok(url.to_owned())
    } else {
        Err(ConfigError {
            variable: "DOWNLOAD_BASE_URL",
            problem: format!(
                "must be the download function's URL, https://<id>.lambda-url.<region>.on.aws (http only on the loopback), not {raw:?}"
            ),
        })
    }
}

fn required<'a>(value: &'a Option<String>, variable: &'static str) -> Result<&'a str, ConfigError> {
    value
        .as_deref()
        .ok_or(ConfigError { variable, problem: "is required by this function but not set".into() })
}

/// An origin as browsers send it: scheme, host and optional port, no path. https, except on
/// loopback (the local stack's console).
fn console_origin(raw: String) -> Result<String, ConfigError> {
    let loopback = ["http://127.0.0.1:", "http://localhost:"].iter().any(|p| raw.starts_with(p));
    let rest = raw.strip_prefix("https://").or_else(|| loopback.then(|| &raw[7..]));
    let host_ok = rest.is_some_and(|r| {
        !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    });
    if host_ok {
        Ok(raw)
    } else {
        Err(ConfigError {
            variable: "CONSOLE_ORIGIN",
            problem: format!(
                "must be an origin such as https://d111111abcdef8.cloudfront.net (https, no path or \
                 trailing slash; http only on 127.0.0.1 or localhost), not {raw:?}"
            ),
        })
    }
}

struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    /// Unset and empty are the same: CloudFormation writes "" for an unset optional parameter.
    fn optional(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        Ok((self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
    }

    fn number(&self, name: &'static str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.optional(name)? else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError {
                variable: name,
                problem: format!("must be a whole number from {min} to {max}, not {raw:?}"),
            }),
        }
    }

    fn seconds(&self, name: &'static str, default: u64, min: u64) -> Result<Duration, ConfigError> {
        self.number(name, default, min, 10 * 365 * 86_400).map(Duration::from_secs)
    }

    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name)?.as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => {
                Err(ConfigError { variable: name, problem: format!("must be true or false, not {other:?}") })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("ACCOUNTS_TABLE", "AccountsTable"),
            ("ATTACHMENTS_TABLE", "AttachmentsTable"),
            ("EXPORTS_TABLE", "ExportsTable"),
            ("EXPORT_BUCKET", "exports-local"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = load(&base()).unwrap();
        assert_eq!(c.url_expiry, Duration::from_secs(518_400));
        assert_eq!(c.throttle_window, Duration::from_secs(604_800));
        assert_eq!(c.manifest_link, Duration::from_secs(900));
        assert!(!c.s3_force_path_style);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn the_console_origin_is_an_origin() {
        let with = |origin: &'static str| {
            let mut vars = base();
            vars.insert("CONSOLE_ORIGIN", origin);
            load(&vars)
        };
        assert_eq!(load(&base()).unwrap().console_origin, None);
        for good in [
            "https://d111111abcdef8.cloudfront.net",
            "http://127.0.0.1:18007",
            "https://console.example.com:8443",
        ] {
            assert_eq!(with(good).unwrap().console_origin.as_deref(), Some(good));
        }
        for bad in
            ["http://d111.cloudfront.net", "https://x.example/", "https://x.example/app", "*", "https://"]
        {
            let err = with(bad).unwrap_err();
            assert_eq!(err.variable, "CONSOLE_ORIGIN", "{bad}");
        }
    }

    #[test]
    fn json_logs_on_lambda_unless_told_otherwise() {
        let mut vars = base();
        vars.insert("AWS_LAMBDA_FUNCTION_NAME", "start-export");
        assert_eq!(load(&vars).unwrap().log_format, LogFormat::Json);
        vars.insert("LOG_FORMAT", "text");
        assert_eq!(load(&vars).unwrap().log_format, LogFormat::Text);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: [(&'static str, &'static str); 14] = [
            ("URL_EXPIRY_SECONDS", "604801"),
            ("URL_EXPIRY_SECONDS", "six days"),
            ("THROTTLE_WINDOW_SECONDS", "0"),
            ("PART_ITEMS", "-3"),
            ("LIST_SEGMENTS", "0"),
            ("LIST_SEGMENTS", "100000"),
            ("ASSEMBLY_GROUP_PARTS", "0"),
            ("ASSEMBLY_GROUP_PARTS", "5000"),
            ("FINALIZE_PASS_BYTES", "-1"),
            ("SWEEP_MAX_RUNNING", "0"),
            ("MAX_READ_RATE", "fast"),
            ("S3_FORCE_PATH_STYLE", "yes"),
            ("LOG_FORMAT", "xml"),
            ("MANIFEST_LINK_SECONDS", "999999"),
        ];
        for (name, value) in cases {
            let mut vars = base();
            vars.insert(name, value);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_resource_is_required_only_by_the_function_that_uses_it_and_named_when_missing() {
        // A function that writes no manifest starts without the export bucket...
        let mut vars = base();
        vars.remove("EXPORT_BUCKET");
        vars.remove("ATTACHMENTS_TABLE");
        let c = load(&vars).unwrap();
        assert_eq!(c.accounts_table().unwrap(), "AccountsTable");
        assert_eq!(c.exports_table().unwrap(), "ExportsTable");
        // ...and one that needs it is told which variable is missing, blank counting as missing.
        assert_eq!(c.export_bucket().unwrap_err().variable, "EXPORT_BUCKET");
        assert_eq!(c.attachments_table().unwrap_err().variable, "ATTACHMENTS_TABLE");
        assert_eq!(c.state_machine_arn().unwrap_err().variable, "STATE_MACHINE_ARN");
        vars.insert("EXPORTS_TABLE", "  ");
        let err = load(&vars).unwrap().exports_table().unwrap_err();
        assert_eq!(err.variable, "EXPORTS_TABLE");
        assert!(err.to_string().contains("EXPORTS_TABLE is required by this function"), "{err}");
        vars.insert("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:000000000000:stateMachine:x");
        assert!(load(&vars).unwrap().state_machine_arn().is_ok());
    }

    #[test]
    fn attachment_buckets_are_a_comma_separated_list_required_where_used() {
        let mut vars = base();
        assert_eq!(load(&vars).unwrap().attachment_buckets().unwrap_err().variable, "ATTACHMENT_BUCKETS");
        vars.insert("ATTACHMENT_BUCKETS", " , ");
        assert_eq!(load(&vars).unwrap().attachment_buckets().unwrap_err().variable, "ATTACHMENT_BUCKETS");
        vars.insert("ATTACHMENT_BUCKETS", "attachments-a, attachments-b,");
        assert_eq!(load(&vars).unwrap().attachment_buckets().unwrap(), ["attachments-a", "attachments-b"]);
    }

    #[test]
    fn the_attachment_key_layout_is_required_where_used_and_a_bad_one_is_named() {
        let mut vars = base();
        assert_eq!(
            load(&vars).unwrap().attachment_key_layout().unwrap_err().variable,
            "ATTACHMENT_KEY_LAYOUT"
        );
        vars.insert("ATTACHMENT_KEY_LAYOUT", "attachments/");
        let err = load(&vars).unwrap_err();
        assert_eq!(err.variable, "ATTACHMENT_KEY_LAYOUT");
        assert!(err.to_string().contains("{accountId}"), "{err}");
        vars.insert("ATTACHMENT_KEY_LAYOUT", "tenants/{accountId}/");
        assert_eq!(load(&vars).unwrap().attachment_key_layout().unwrap().to_string(), "tenants/{accountId}/");
    }

    #[test]
    fn download_links_need_their_keys_and_base_url_where_used() {
        let mut vars = base();
        let config = load(&vars).unwrap();
        assert_eq!(config.link_key_ids().unwrap_err().variable, "LINK_KEY_IDS");
        assert_eq!(config.download_base_url().unwrap_err().variable, "DOWNLOAD_BASE_URL");
        assert_eq!((config.redirect_url.as_secs(), config.link_state_cache.as_secs()), (45, 5));
        vars.insert("LINK_KEY_IDS", "arn:aws:kms:us-east-1:1:key/a, arn:aws:kms:us-east-1:1:key/b");
        vars.insert("DOWNLOAD_BASE_URL", "https://abc.lambda-url.us-east-1.on.aws/");
        let config = load(&vars).unwrap();
        assert_eq!(config.link_key_ids().unwrap().len(), 2);
        assert_eq!(config.download_base_url().unwrap(), "https://abc.lambda-url.us-east-1.on.aws");
        vars.insert("DOWNLOAD_BASE_URL", "http://127.0.0.1:18008");
        assert_eq!(load(&vars).unwrap().download_base_url().unwrap(), "http://127.0.0.1:18008");
        for bad in ["http://example.com", "https://x/f", "ftp://x", "https://"] {
            vars.insert("DOWNLOAD_BASE_URL", bad);
            assert_eq!(load(&vars).unwrap_err().variable, "DOWNLOAD_BASE_URL", "{bad}");
        }
        vars.remove("DOWNLOAD_BASE_URL");
        for (name, bad) in [
            ("REDIRECT_URL_SECONDS", "0"),
            ("REDIRECT_URL_SECONDS", "301"),
            ("LINK_STATE_CACHE_SECONDS", "61"),
        ] {
            vars.insert(name, bad);
            assert_eq!(load(&vars).unwrap_err().variable, name);
            vars.remove(name);
        }
    }

    #[test]
    fn seven_days_is_the_longest_url() {
        let mut vars = base();
        vars.insert("URL_EXPIRY_SECONDS", "604800");
        assert_eq!(load(&vars).unwrap().url_expiry, SIGV4_MAX_EXPIRY);
    }
}
