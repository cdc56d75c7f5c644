//! Helpers for tests of every crate: the sample events under `events/` with their declared
//! outcomes, and a CSV reader for what the encoders wrote.

/// The sample events of one function, read from `events/<function>/` (they are real events, usable
/// with `cargo lambda invoke --data-file`), each with its expected outcome from `expected`. A file
/// without an entry in the table, or an entry without a file, fails: a new sample event is tested
/// as soon as it exists. Names and texts are leaked, so fuzz strategies can take them as `'static`.
pub fn sample_events<E: Copy + std::fmt::Debug>(
    manifest_dir: &str,
    function: &str,
    expected: &[(&str, E)],
) -> Vec<(&'static str, &'static str, E)> {
    let dir = std::path::Path::new(manifest_dir).join("../../events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    for (name, _) in expected {
        assert!(files.iter().any(|f| f == name), "the table expects events/{function}/{name}, which is gone");
    }
    files
        .into_iter()
        .map(|name| {
            let outcome = expected
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("events/{function}/{name} has no expected outcome in the table"))
                .1;
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (&*Box::leak(name.into_boxed_str()), &*Box::leak(text.into_boxed_str()), outcome)
        })
        .collect()
}

/// The records of a CSV file (a manifest or a report) as strings, the header row left out when
/// `has_headers`; for tests that read what the encoders wrote.
pub fn csv_records(bytes: &[u8], has_headers: bool) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}
