//! `attachment-export verify`: checks an export offline against its signed statement (DESIGN §14) —
//! the signature, the manifest, errors and coverage files (bytes, lines, SHA-256), every downloaded
//! file against the manifest, and the chain to an earlier statement. Each check has a verdict; the
//! whole passes only if every check that ran passed. Nothing here touches the network (the public
//! key is given to it) or prints a URL.

use std::path::{Path, PathBuf};

use export_core::domain::statement::{self, FileDigest, Statement};
use p256::ecdsa::VerifyingKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::CliError;
use crate::download::{local_path, read_manifest};

/// Where an export's files are, as `attachment-export manifest --out FILE` saves them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFiles {
    pub manifest: PathBuf,
    pub errors: PathBuf,
    pub coverage: PathBuf,
    pub statement: PathBuf,
    pub signature: PathBuf,
}

impl ExportFiles {
    /// Beside `manifest` (`NAME.csv`): `NAME.errors.csv`, `NAME.coverage.csv`,
    /// `NAME.statement.json` and `NAME.statement.sig`.
    pub fn beside(manifest: &Path) -> Self {
        let stem = manifest.file_stem().and_then(|n| n.to_str()).unwrap_or("manifest").to_owned();
        let sibling = |suffix: &str| manifest.with_file_name(format!("{stem}.{suffix}"));
        Self {
            manifest: manifest.to_owned(),
            errors: sibling("errors.csv"),
            coverage: sibling("coverage.csv"),
            statement: sibling("statement.json"),
            signature: sibling("statement.sig"),
        }
    }
}

/// One check and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// Every check, whether all passed, and whether the key they used was pinned by the caller (a
/// `--public-key`, a `--key-id` or `STATEMENT_KEY_ID`) rather than taken from the statement itself,
/// which a forger writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub verified: bool,
    pub pinned: bool,
    pub checks: Vec<Check>,
}

impl Verdict {
    fn push(&mut self, check: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check { check: check.to_owned(), ok, detail: detail.into() });
        self.verified = self.checks.iter().all(|c| c.ok);
    }

    /// The human report: one line per check, then the verdict.
    /// `VERIFIED`, `UNPINNED` (every check passed, with a key the caller did not pin) or `NOT
    /// VERIFIED`.
    pub fn outcome(&self) -> &'static str {
        match (self.verified, self.pinned) {
            (true, true) => "VERIFIED",
            (true, false) => "UNPINNED",
            (false, _) => "NOT VERIFIED",
        }
    }

    pub fn describe(&self) -> String {
        let mut text = String::new();
        for c in &self.checks {
            text.push_str(&format!(
                "  {:<6}  {:<10}  {}\n",
                if c.ok { "ok" } else { "FAILED" },
                c.check,
                c.detail
            ));
        }
        let failed = self.checks.iter().filter(|c| !c.ok).count();
        if self.verified && !self.pinned {
            text.push_str(&format!(
                "verdict: UNPINNED ({} checks passed with the key the statement names, which a forged \
                 statement names too: pin the stack's key with --public-key or --key-id)",
                self.checks.len()
            ));
        } else if self.verified {
            text.push_str(&format!("verdict: VERIFIED ({} checks passed)", self.checks.len()));
        } else {
            text.push_str(&format!(
                "verdict: NOT VERIFIED ({failed} of {} checks failed)",
                self.checks.len()
            ));
        }
        text
    }
}

/// What to check besides the statement and its signature.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The downloaded files (`download --out DIR`), checked against the manifest.
    pub files: Option<PathBuf>,
    /// An earlier statement of the same account, which this one must chain to.
    pub previous: Option<PathBuf>,
    /// Only the statement and the manifest (what `download` checks before it starts).
    pub manifest_only: bool,
}

/// Reads and parses the statement (the first thing every caller needs, e.g. for its key id).
pub fn read_statement(path: &Path) -> Result<(Vec<u8>, Statement), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let parsed = statement::parse(&bytes).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    Ok((bytes, parsed))
}

/// Runs every check with the public key `key` (`pinned`: the caller gave it, rather than the
/// statement naming it).
pub async fn verify(
    files: &ExportFiles,
    (key, pinned): (&VerifyingKey, bool),
    key_source: &str,
    options: &VerifyOptions,
) -> Result<Verdict, CliError> {
    let mut verdict = Verdict { verified: true, pinned, checks: Vec::new() };
    let (bytes, statement) = read_statement(&files.statement)?;
    match std::fs::read(&files.signature) {
        Ok(signature) => match statement::verify_signature(key, &bytes, &signature) {
            Ok(()) => verdict.push(
                "signature",
                true,
                format!("ECDSA P-256 / SHA-256 over {} ({key_source})", files.statement.display()),
            ),
            Err(problem) => verdict.push("signature", false, format!("{problem} ({key_source})")),
        },
        Err(e) => verdict.push("signature", false, format!("{}: {e}", files.signature.display())),
    }
    verdict.push(
        "statement",
        true,
        format!(
            "export {} of {}: files uploaded up to {}{}; {} attachments, {} error rows",
            statement.export_id,
            statement.owner,
            statement.cutoff,
            statement.since.map(|s| format!(" and after {s}")).unwrap_or_default(),
            statement.attachment_count,
            statement.error_count
        ),
    );
    let manifest_ok = check_file(&mut verdict, "manifest", &files.manifest, &statement.manifest, false).await;
    if options.manifest_only {
        return Ok(verdict);
    }
    check_file(&mut verdict, "errors", &files.errors, &statement.errors, statement.error_count == 0).await;
    check_file(&mut verdict, "coverage", &files.coverage, &statement.coverage, false).await;
    if let Some(dir) = &options.files {
        if manifest_ok {
            check_downloads(&mut verdict, &files.manifest, dir).await?;
        } else {
            verdict.push("files", false, "not checked: the manifest does not match the statement");
        }
    }
    if let Some(previous) = &options.previous {
        check_chain(&mut verdict, &statement, previous, key);
    }
    Ok(verdict)
}

/// A file against its digest in the statement: bytes, line feeds and SHA-256. `absent_ok`: a
/// missing file passes (errors.csv of an export without error rows, which is not handed out).
async fn check_file(
    verdict: &mut Verdict,
    check: &str,
    path: &Path,
    expected: &FileDigest,
    absent_ok: bool,
) -> bool {
    let body = match tokio::fs::read(path).await {
        Ok(body) => body,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && absent_ok => {
            verdict.push(
                check,
                true,
                format!("{} not present; the statement lists no error rows", path.display()),
            );
            return true;
        }
        Err(e) => {
            verdict.push(check, false, format!("{}: {e}", path.display()));
            return false;
        }
    };
    let actual = FileDigest::of(expected.key.clone(), &body);
    let mut problems = Vec::new();
    if actual.bytes != expected.bytes {
        problems.push(format!("{} bytes, the statement says {}", actual.bytes, expected.bytes));
    }
    if actual.lines != expected.lines {
        problems.push(format!("{} lines, the statement says {}", actual.lines, expected.lines));
    }
    if actual.sha256 != expected.sha256 {
        problems.push("its SHA-256 differs from the statement's".to_owned());
    }
    let ok = problems.is_empty();
    let detail = if ok {
        format!(
            "{}: {} bytes, {} lines, SHA-256 {}",
            path.display(),
            actual.bytes,
            actual.lines,
            actual.sha256
        )
    } else {
        format!("{}: {}", path.display(), problems.join("; "))
    };
    verdict.push(check, ok, detail);
    ok
}

/// Every row of the manifest against the file `download` saved for it (size and SHA-256).
async fn check_downloads(verdict: &mut Verdict, manifest: &Path, dir: &Path) -> Result<(), CliError> {
    let bytes =
        std::fs::read(manifest).map_err(|e| CliError::Usage(format!("{}: {e}", manifest.display())))?;
    let entries = read_manifest(&bytes)?;
    let (mut good, mut missing, mut bad) = (0u64, Vec::new(), Vec::new());
    for entry in &entries {
        let path = local_path(dir, entry);
        match tokio::fs::read(&path).await {
            Ok(body) => {
                let sha = export_core::domain::hex::encode(&Sha256::digest(&body));
                if body.len() as u64 == entry.size_bytes && sha == entry.sha256 {
                    good += 1;
                } else {
                    bad.push(entry.attachment_id.clone());
                }
            }
            Err(_) => missing.push(entry.attachment_id.clone()),
        }
    }
    let ok = missing.is_empty() && bad.is_empty();
    let mut detail = format!("{good} of {} files under {} match the manifest", entries.len(), dir.display());
    if !bad.is_empty() {
        detail.push_str(&format!("; {} differ (size or SHA-256): {}", bad.len(), sample(&bad)));
    }
    if !missing.is_empty() {
        detail.push_str(&format!("; {} missing: {}", missing.len(), sample(&missing)));
    }
    verdict.push("files", ok, detail);
    Ok(())
}

fn sample(ids: &[String]) -> String {
    let mut text = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        text.push_str(", …");
    }
    text
}

/// This statement's `previous` must name `previous` exactly: same account, its export id and
/// cutoff, and the SHA-256 of its bytes. Its own signature is checked too when its `.sig` is
/// beside it.
fn check_chain(verdict: &mut Verdict, statement: &Statement, previous: &Path, key: &VerifyingKey) {
    let (bytes, earlier) = match read_statement(previous) {
        Ok(read) => read,
        Err(e) => return verdict.push("chain", false, e.to_string()),
    };
    let Some(link) = &statement.previous else {
        return verdict.push(
            "chain",
            false,
            format!("the statement names no previous statement, but {} was given", previous.display()),
        );
    };
    let sha = export_core::domain::hex::encode(&statement::digest(&bytes));
    let mut problems = Vec::new();
    if earlier.owner != statement.owner {
        problems.push("it is another account's or user's".to_owned());
    }
    if earlier.export_id != link.export_id {
        problems.push(format!("it is export {}, the chain names {}", earlier.export_id, link.export_id));
    }
    if earlier.cutoff != link.cutoff {
        problems.push(format!("its cutoff is {}, the chain says {}", earlier.cutoff, link.cutoff));
    }
    if sha != link.statement_sha256 {
        problems.push("its SHA-256 differs from the one this statement chains to".to_owned());
    }
    let signature = previous.with_extension("sig");
    if let Ok(sig) = std::fs::read(&signature)
        && let Err(problem) = statement::verify_signature(key, &bytes, &sig)
    {
        problems.push(format!("its own signature: {problem}"));
    }
    if problems.is_empty() {
        verdict.push(
            "chain",
            true,
            format!("follows export {} (cutoff {}), SHA-256 {sha}", link.export_id, link.cutoff),
        );
    } else {
        verdict.push("chain", false, format!("{}: {}", previous.display(), problems.join("; ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_an_export_sit_beside_its_manifest() {
        let files = ExportFiles::beside(Path::new("out/march.csv"));
        assert_eq!(files.errors, Path::new("out/march.errors.csv"));
        assert_eq!(files.coverage, Path::new("out/march.coverage.csv"));
        assert_eq!(files.statement, Path::new("out/march.statement.json"));
        assert_eq!(files.signature, Path::new("out/march.statement.sig"));
    }

    #[test]
    fn one_failed_check_fails_the_verdict() {
        let mut verdict = Verdict { verified: true, pinned: true, checks: Vec::new() };
        verdict.push("signature", true, "fine");
        assert!(verdict.verified && verdict.describe().ends_with("verdict: VERIFIED (1 checks passed)"));
        verdict.push("manifest", false, "differs");
        verdict.push("coverage", true, "fine");
        assert!(!verdict.verified);
        assert!(verdict.describe().contains("  FAILED  manifest    differs"), "{}", verdict.describe());
        assert!(verdict.describe().ends_with("NOT VERIFIED (1 of 3 checks failed)"));
    }

    #[test]
    fn checks_that_pass_with_an_unpinned_key_are_not_verified() {
        let mut verdict = Verdict { verified: true, pinned: false, checks: Vec::new() };
        verdict.push("signature", true, "fine");
        assert_eq!(verdict.outcome(), "UNPINNED");
        assert!(verdict.describe().contains("verdict: UNPINNED (1 checks passed"), "{}", verdict.describe());
        assert!(!verdict.describe().contains("VERIFIED ("), "{}", verdict.describe());
        verdict.push("manifest", false, "differs");
        assert_eq!(verdict.outcome(), "NOT VERIFIED");
        verdict.pinned = true;
        assert_eq!(verdict.outcome(), "NOT VERIFIED");
    }
}
