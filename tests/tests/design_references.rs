//! Every "DESIGN §N" in the repository resolves to a section of docs/DESIGN.md, and nothing points
//! at the product brief outside the repository any more. Needs no local stack.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SKIP_DIRS: [&str; 4] = ["target", ".local", ".git", "node_modules"];
const EXTENSIONS: [&str; 8] = ["rs", "py", "sh", "yaml", "yml", "json", "md", "toml"];

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                text_files(&path, out);
            }
        } else if name == "Makefile" || path.extension().is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x)) {
            out.push(path);
        }
    }
}

/// A section number `N` or `N.M` at the start of `s`, and the rest of `s`.
fn section(s: &str) -> Option<(String, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let number = s[..end].trim_end_matches('.');
    (!number.is_empty() && number.as_bytes()[0].is_ascii_digit())
        .then(|| (number.to_owned(), &s[number.len()..]))
}

/// The sections one "DESIGN §…" names: `§4`, `§5.2`, `§1, §4, §5`, `§4–§6` (a range: 4, 5 and 6).
fn referenced_sections(after: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Some((first, mut rest)) = section(after) else { return found };
    found.push(first);
    loop {
        let (is_range, tail) = if let Some(t) = rest.strip_prefix("–§").or_else(|| rest.strip_prefix("-§"))
        {
            (true, t)
        } else if let Some(t) = rest.strip_prefix(", §") {
            (false, t)
        } else {
            return found;
        };
        let Some((next, tail)) = section(tail) else { return found };
        if is_range {
            let major = |s: &str| s.split('.').next().unwrap().parse::<u32>().unwrap();
            let from = major(found.last().unwrap());
            found.extend((from + 1..major(&next)).map(|n| n.to_string()));
        }
        found.push(next);
        rest = tail;
    }
}

#[test]
fn every_design_reference_has_its_section_and_none_points_outside_the_repo() {
    let root = integration_tests::repo_root();
    let design = std::fs::read_to_string(root.join("docs/DESIGN.md")).expect("docs/DESIGN.md exists");
    let headings: Vec<String> = design
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|h| h.split_once(". ").map(|(n, _)| n.to_owned()))
        .collect();

    let mut files = Vec::new();
    text_files(&root, &mut files);
    let outside = concat!("shared/", "DESIGN.md");
    let mut references: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut outside_links = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else { continue }; // not UTF-8: not ours
        let shown = path.strip_prefix(&root).unwrap().display().to_string();
        for (n, line) in text.lines().enumerate() {
            if line.contains(outside) {
                outside_links.push(format!("{shown}:{}", n + 1));
            }
            for (at, _) in line.match_indices("DESIGN §") {
                for number in referenced_sections(&line[at + "DESIGN §".len()..]) {
                    references.entry(number).or_default().push(format!("{shown}:{}", n + 1));
                }
            }
        }
    }

    assert!(references.len() >= 5, "found almost no DESIGN references ({references:?}): is the walk broken?");
    let missing: Vec<String> = references
        .iter()
        .filter(|(number, _)| !headings.contains(&number.split('.').next().unwrap().to_owned()))
        .map(|(number, at)| {
            format!("§{number} (no `## {}.` heading) at {}", number.split('.').next().unwrap(), at.join(", "))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "DESIGN references without a section in docs/DESIGN.md:\n{}",
        missing.join("\n")
    );
    assert!(
        outside_links.is_empty(),
        "references to the brief outside the repo:\n{}",
        outside_links.join("\n")
    );
}

#[test]
fn references_are_read_in_every_written_form() {
    assert_eq!(referenced_sections("4's table"), ["4"]);
    assert_eq!(referenced_sections("1, §4, §5)"), ["1", "4", "5"]);
    assert_eq!(referenced_sections("4–§6, issue"), ["4", "5", "6"]);
    assert_eq!(referenced_sections("5.2."), ["5.2"]);
    assert_eq!(referenced_sections("N"), Vec::<String>::new());
}
