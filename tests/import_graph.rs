//! The module graph of `src/` has no cycle. Edges are the `crate::` and
//! `super::` paths a file names outside its `#[cfg(test)]` part (in `use`
//! declarations or inline), resolved to the file of the longest module prefix.
//! A module's paths to its own ancestors are left out: a parent's `mod.rs`
//! holds what its children share, and declaring a child is not using it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn src_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    // The scan must see the crate as it is, or it proves nothing.
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(edges > 40, "only {edges} edges found: {graph:#?}");
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles in src/ (each line is one strongly connected set of modules):\n{}",
        cycles
            .iter()
            .map(|c| format!("  {}", c.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(graph["exit"].contains("error"), "exit -> error missing");
}

#[test]
fn error_is_a_leaf_and_adapters_know_no_exit_codes() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(
        graph["error"].is_empty(),
        "error imports {:?}",
        graph["error"]
    );
    for (from, to) in &graph {
        let adapter = [
            "cosign",
            "registry",
            "harbor",
            "docker",
            "installer",
            "ui",
            "http",
        ]
        .iter()
        .any(|a| from == a || from.starts_with(&format!("{a}::")));
        if adapter {
            assert!(!to.contains("exit"), "{from} imports exit");
            assert!(!to.contains("cli"), "{from} imports cli");
        }
    }
}

#[test]
fn the_detector_finds_a_cycle() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    let uses = use_paths("use crate::{a::{b, c::D}, e as f, g::*};");
    assert_eq!(
        uses,
        ["crate::a::b", "crate::a::c::D", "crate::e", "crate::g"]
    );
    assert_eq!(
        absolute("super::super::x::Y", &["a", "b", "c"]),
        Some(vec!["a".to_string(), "x".into(), "Y".into()])
    );
}

/// Module path (`a::b`, `""` for lib.rs) of each file under `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut segs: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match segs.last().map(String::as_str) {
                Some("main") if segs.len() == 1 => continue,
                Some("lib") if segs.len() == 1 => segs.clear(),
                Some("mod") => {
                    segs.pop();
                }
                _ => {}
            }
            out.insert(segs.join("::"), p);
        }
    }
    out
}

fn module_graph(src: &Path) -> Graph {
    let mods = modules(src);
    let mut graph = Graph::new();
    for (name, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let code = strip(&text);
        let here: Vec<&str> = name.split("::").filter(|s| !s.is_empty()).collect();
        let edges = graph.entry(name.clone()).or_default();
        for path in referenced_paths(&code) {
            let Some(abs) = absolute(&path, &here) else {
                continue;
            };
            let target = resolve(&abs, &mods);
            let ancestor =
                target.is_empty() || name == &target || name.starts_with(&format!("{target}::"));
            if !ancestor {
                edges.insert(target);
            }
        }
    }
    graph
}

/// The code before `#[cfg(test)]`, without whole-line comments.
fn strip(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::`/`super::` path named in `code`, with its prefix.
fn referenced_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code.to_string();
    // `use` declarations first (they may group paths in braces).
    while let Some(i) = find_use(&rest) {
        let end = rest[i..].find(';').map_or(rest.len(), |e| i + e);
        out.extend(use_paths(&rest[i..=end.min(rest.len() - 1)]));
        rest.replace_range(i..end.min(rest.len()), "");
    }
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = rest[from..].find(prefix) {
            let start = from + i;
            let before = rest[..start].chars().last();
            from = start + prefix.len();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let tail: String = rest[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The start of the next `use crate::`/`use super::` declaration.
fn find_use(code: &str) -> Option<usize> {
    ["use crate::", "use super::"]
        .iter()
        .filter_map(|p| code.find(p))
        .min()
}

/// The paths of one `use` declaration, each with its prefix (`crate`/`super`).
fn use_paths(decl: &str) -> Vec<String> {
    let body = decl
        .trim()
        .trim_start_matches("use ")
        .trim_end_matches(';')
        .trim();
    let mut out = Vec::new();
    expand(body, "", &mut out);
    out
}

fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    for item in split_top(tree) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some(open) = item.find('{') {
            let head = item[..open].trim().trim_end_matches("::");
            let inner = &item[open + 1..item.rfind('}').unwrap_or(item.len())];
            expand(inner, &join(prefix, head), out);
        } else {
            let path = item.split(" as ").next().unwrap().trim();
            let path = path.trim_end_matches("::*").trim_end_matches("::self");
            if path == "self" || path == "*" {
                out.push(prefix.to_string());
            } else {
                out.push(join(prefix, path));
            }
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// Split at commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A path as segments from the crate root.
fn absolute(path: &str, here: &[&str]) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    match segs.first() {
        Some(&"crate") => {
            segs.remove(0);
            Some(segs.iter().map(|s| s.to_string()).collect())
        }
        Some(&"super") => {
            // In a.rs (module a) `super` is a's parent; in a/mod.rs too.
            let mut base: Vec<&str> = here.to_vec();
            while segs.first() == Some(&"super") {
                segs.remove(0);
                base.pop()?;
            }
            Some(base.into_iter().chain(segs).map(str::to_string).collect())
        }
        _ => None,
    }
}

/// The module (file) of the longest prefix of `segs`.
fn resolve(segs: &[String], mods: &BTreeMap<String, PathBuf>) -> String {
    (0..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| mods.contains_key(m))
        .unwrap_or_default()
}

/// The strongly connected sets of more than one module (Tarjan), sorted.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut set = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                set.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                t.out.push(set);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}
