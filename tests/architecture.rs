//! The shape of `src/`: the top-level modules depend on each other without a cycle, so each can
//! be read, tested and changed from the bottom up. Reads every `src/**.rs` (test code aside:
//! `tests.rs`, `tests/` folders, modules and items under `#[cfg(test)]`; comments and string
//! literals ignored), collects each top-level module's `crate::<module>` references (`use
//! crate::{a, b}` groups included) and fails naming a cycle with a file for each of its steps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `from` → `to` → a file of `from` that refers to `to`.
type Graph = BTreeMap<String, BTreeMap<String, PathBuf>>;

#[test]
fn the_top_level_modules_of_src_have_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    let cycles: Vec<String> = cycles(&graph).iter().map(|c| describe(&graph, c)).collect();
    assert!(
        cycles.is_empty(),
        "the top-level modules of src/ depend on each other in a cycle:\n{}",
        cycles.join("\n")
    );
}

/// The dialects sit below both ends: `wire` knows only the domain, the messages and the CSV
/// text plumbing, and the connector (client) and the simulator (server) know each other only
/// through it.
#[test]
fn the_wire_dialects_sit_below_the_connector_and_the_simulator() {
    let graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let deps = |m: &str| -> BTreeSet<&str> {
        graph
            .get(m)
            .into_iter()
            .flat_map(|t| t.keys())
            .map(String::as_str)
            .collect()
    };
    let allowed = BTreeSet::from(["domain", "messages", "csv_text"]);
    assert!(
        deps("wire").is_subset(&allowed),
        "wire depends on {:?}",
        deps("wire")
    );
    assert!(
        !deps("tso_sim").contains("connector"),
        "{:?}",
        graph["tso_sim"]
    );
    assert!(
        !deps("connector").contains("tso_sim"),
        "{:?}",
        graph["connector"]
    );
    assert!(deps("tso_sim").contains("wire") && deps("connector").contains("wire"));
}

#[test]
fn the_check_finds_a_cycle_and_names_its_steps() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        let file = PathBuf::from(format!("{from}/mod.rs"));
        graph
            .entry(from.into())
            .or_default()
            .insert(to.into(), file);
    }
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        describe(&graph, &found[0]),
        "a -> b (a/mod.rs) -> c (b/mod.rs) -> a (c/mod.rs)"
    );
    graph.get_mut("c").unwrap().remove("a");
    assert!(cycles(&graph).is_empty());
}

#[test]
fn comments_strings_and_test_code_are_not_dependencies() {
    let code = r##"
        //! See [`crate::api`].
        use crate::{domain::Area, messages, self};
        /* crate::bench */ const S: &str = "crate::up"; const R: &str = r#"crate::hub"#;
        const Q: char = '"'; fn f<'a>(x: &'a str) -> &'a str { crate::db::id(x) }
        #[cfg(test)]
        mod tests { use crate::tso_sim; fn g() { let _ = "}"; } }
        #[cfg(test)]
        use crate::connector;
    "##;
    let refs = references(&strip_test_items(&strip_comments_and_strings(code)).0);
    let expected: BTreeSet<String> = ["db", "domain", "messages"].map(String::from).into();
    assert_eq!(refs, expected);
}

/// The dependency graph of `src`'s top-level modules (`lib.rs` and `main.rs` aside).
fn graph_of(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect_files(src, &mut files);
    files.sort();
    let mut code_of = BTreeMap::new();
    let mut test_only = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        let (code, test_mods) = strip_test_items(&strip_comments_and_strings(&text));
        let dir = children_dir(file);
        test_only.extend(test_mods.iter().map(|m| dir.join(m)));
        code_of.insert(file.clone(), code);
    }
    let mut graph = Graph::new();
    for (file, code) in &code_of {
        let rel = file.strip_prefix(src).expect("under src");
        let is_test = rel.components().any(|c| c.as_os_str() == "tests")
            || rel.file_name().is_some_and(|n| n == "tests.rs")
            || test_only
                .iter()
                .any(|m| file.starts_with(m) || *file == m.with_extension("rs"));
        let top = top_module(rel);
        if is_test || top == "lib" || top == "main" {
            continue;
        }
        for to in references(code).into_iter().filter(|to| *to != top) {
            let edges = graph.entry(top.clone()).or_default();
            edges.entry(to).or_insert_with(|| rel.to_path_buf());
        }
    }
    graph
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The folder a file's `mod x;` children live in: beside `mod.rs`/`lib.rs`/`main.rs`, in a
/// folder named after any other file.
fn children_dir(file: &Path) -> PathBuf {
    let parent = file.parent().expect("a parent").to_path_buf();
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") | None => parent,
        Some(stem) => parent.join(stem),
    }
}

fn top_module(rel: &Path) -> String {
    let first = rel.components().next().expect("a path");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

/// The code with comments replaced by a space and string and char literals by `""`, so that
/// neither a doc link nor a message can count as a dependency.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let (mut out, mut i) = (String::with_capacity(text.len()), 0);
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    while i < chars.len() {
        if at(i, "//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < chars.len() {
                if at(i, "/*") {
                    (depth, i) = (depth + 1, i + 2);
                } else if at(i, "*/") {
                    (depth, i) = (depth - 1, i + 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if let Some(hashes) = raw_string(&chars, i) {
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            i += 2 + hashes;
            while i < chars.len() && !at(i, &close) {
                i += 1;
            }
            i += close.chars().count();
            out.push_str("\"\"");
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if chars[i] == '\'' && (at(i + 1, "\\") || chars.get(i + 2) == Some(&'\'')) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The number of `#` of a raw string starting at `i` (`r"…"`, `r#"…"#`), if one does; a raw
/// identifier (`r#type`) or an identifier ending in `r` is none.
fn raw_string(chars: &[char], i: usize) -> Option<usize> {
    let continues = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if chars[i] != 'r' || continues {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// The code without its `#[cfg(test)]` items (a `mod` with its body, a `use`, a `fn`…), and
/// the names of the modules declared test-only as `#[cfg(test)] mod name;`.
fn strip_test_items(code: &str) -> (String, Vec<String>) {
    const MARK: &str = "#[cfg(test)]";
    let (mut out, mut test_mods, mut rest) = (String::new(), Vec::new(), code);
    while let Some(start) = rest.find(MARK) {
        out.push_str(&rest[..start]);
        let item = &rest[start + MARK.len()..];
        let end = item_end(item);
        let words: Vec<&str> = item[..end]
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if item[..end].trim_end().ends_with(';') {
            if let Some(k) = words.iter().position(|w| *w == "mod") {
                test_mods.push(words[k + 1].to_string());
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    (out, test_mods)
}

/// Where the item starting `item` ends: after its first `;` at depth 0, or after the `}`
/// closing its first brace (attributes' brackets aside).
fn item_end(item: &str) -> usize {
    let mut depth = 0i32;
    for (k, c) in item.char_indices() {
        match c {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => {
                depth -= 1;
                if depth == 0 && c == '}' {
                    return k + 1;
                }
            }
            ';' if depth == 0 => return k + 1,
            _ => {}
        }
    }
    item.len()
}

/// The top-level modules `code` names as `crate::x` or inside `crate::{x, y::z}`.
fn references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            found.extend(head(rest));
        }
    }
    found.remove("self");
    found
}

/// The first segment of each path at depth 0 of a `{…}` group (its opening brace removed).
fn group_heads(group: &str) -> Vec<String> {
    let (mut heads, mut depth, mut start) = (Vec::new(), 0, 0);
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.extend(head(&group[start..k]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.extend(head(&group[start..k]));
                start = k + 1;
            }
            _ => {}
        }
    }
    heads
}

fn head(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// One cycle per strongly connected component of more than one module (the modules reaching
/// each other), each as the modules in order from its first (by name) back to it.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(from, tos)| std::iter::once(from).chain(tos.keys()))
        .collect();
    let mut reach: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
    for &n in &nodes {
        let mut seen = BTreeSet::new();
        let mut todo = vec![n];
        while let Some(m) = todo.pop() {
            for to in graph.get(m).into_iter().flat_map(|t| t.keys()) {
                if seen.insert(to) {
                    todo.push(to);
                }
            }
        }
        reach.insert(n, seen);
    }
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for &n in &nodes {
        if done.contains(n) || !reach[n].contains(n) {
            continue;
        }
        let component: BTreeSet<&String> = reach[n]
            .iter()
            .filter(|m| reach[*m].contains(n))
            .copied()
            .collect();
        done.extend(component.iter().copied());
        found.push(path_back(graph, n, &component));
    }
    found
}

/// The shortest path from `start` back to itself inside `component` (breadth first).
fn path_back(graph: &Graph, start: &String, component: &BTreeSet<&String>) -> Vec<String> {
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(m) = queue.pop_front() {
        for to in graph.get(m).into_iter().flat_map(|t| t.keys()) {
            if !component.contains(to) || came_from.contains_key(to) {
                continue;
            }
            came_from.insert(to, m);
            if to == start {
                let mut path = Vec::new();
                let mut at = came_from[start];
                while at != start {
                    path.push(at.clone());
                    at = came_from[at];
                }
                path.push(start.clone());
                path.reverse();
                return path;
            }
            queue.push_back(to);
        }
    }
    vec![start.clone()]
}

/// `a -> b (a's file naming b) -> … -> a (…)`.
fn describe(graph: &Graph, cycle: &[String]) -> String {
    let mut text = cycle[0].clone();
    for (k, from) in cycle.iter().enumerate() {
        let to = &cycle[(k + 1) % cycle.len()];
        let file = graph[from][to].display();
        text.push_str(&format!(" -> {to} ({file})"));
    }
    text
}
