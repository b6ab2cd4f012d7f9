//! The crate's layering, checked on its source: no file imports a file that imports it (the
//! modules read top-down, router → handlers → helpers and domain → store), and no route file
//! imports another (what handlers share lives below them, in `http/`, `auth/` and the domain).
//!
//! An import is a path the code names through `crate::`, `super::` or `self::`, or a private
//! `use child::…` of a module's own child. A `pub use` in a module's `mod.rs` is its facade, not an
//! import. Unit tests (`mod tests`, `tests.rs`) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`store::sqlite::writer`, `crate` for `lib.rs`) → its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut parts = prefix.to_vec();
                if stem != "mod" && stem != "lib" {
                    parts.push(stem.to_string());
                }
                if stem == "main" || stem == "tests" {
                    continue;
                }
                let module = if parts.is_empty() {
                    "crate".to_string()
                } else {
                    parts.join("::")
                };
                out.insert(module, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut out,
    );
    out
}

/// The source without its unit tests, comments and string literals.
fn code(src: &str) -> String {
    let src = src
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut out = String::new();
    for line in src.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut in_string = false;
        for c in line.chars() {
            if c == '"' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::Path);
            i += 2;
            continue;
        }
        match c {
            '{' => out.push(Token::Open),
            '}' => out.push(Token::Close),
            ',' => out.push(Token::Comma),
            c if c.is_whitespace() => {}
            _ => out.push(Token::Other),
        }
        i += 1;
    }
    out
}

/// The paths named from `tokens[i]` on (`a::b::{c, d::e}` gives `a::b::c`, `a::b::d::e`).
fn paths(tokens: &[Token], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        match tokens.get(i) {
            Some(Token::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if tokens.get(i) != Some(&Token::Path) {
                    out.push(path);
                    return i;
                }
                i += 1;
            }
            Some(Token::Open) => {
                i += 1;
                loop {
                    i = paths(tokens, i, path.clone(), out);
                    match tokens.get(i) {
                        Some(Token::Comma) => i += 1,
                        Some(Token::Close) => return i + 1,
                        _ => return i,
                    }
                    if tokens.get(i) == Some(&Token::Close) {
                        return i + 1;
                    }
                }
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// What each module's `pub use` of a child re-exports: (module, name) → the path it stands for.
fn reexports(modules: &BTreeMap<String, String>) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for (module, src) in modules {
        let here: Vec<String> = if module == "crate" {
            Vec::new()
        } else {
            module.split("::").map(String::from).collect()
        };
        let toks = tokens(&code(src));
        for (i, t) in toks.iter().enumerate() {
            if *t != Token::Ident("pub".into())
                || toks.get(i + 1) != Some(&Token::Ident("use".into()))
            {
                continue;
            }
            let mut named = Vec::new();
            paths(&toks, i + 2, here.clone(), &mut named);
            for path in named {
                if let Some(name) = path.last() {
                    out.insert((module.clone(), name.clone()), path.clone());
                }
            }
        }
    }
    out
}

/// What each module imports, through the facades of `pub use`.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let facades = reexports(modules);
    let resolve = |parts: &[String]| {
        let mut parts = parts.to_vec();
        for _ in 0..8 {
            let (n, module) = (1..=parts.len())
                .rev()
                .map(|n| (n, parts[..n].join("::")))
                .find(|(_, m)| modules.contains_key(m))?;
            match parts
                .get(n)
                .and_then(|name| facades.get(&(module.clone(), name.clone())))
            {
                Some(target) if *target != parts[..=n] => {
                    let mut next = target.clone();
                    next.extend_from_slice(&parts[n + 1..]);
                    parts = next;
                }
                _ => return Some(module),
            }
        }
        None
    };
    let mut graph = BTreeMap::new();
    for (module, src) in modules {
        let here: Vec<String> = if module == "crate" {
            Vec::new()
        } else {
            module.split("::").map(String::from).collect()
        };
        let code = code(src);
        let toks = tokens(&code);
        let mut named = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            let Token::Ident(word) = t else { continue };
            if toks.get(i + 1) != Some(&Token::Path) || (i > 0 && toks[i - 1] == Token::Path) {
                continue;
            }
            let base: Option<Vec<String>> = match word.as_str() {
                "crate" => Some(Vec::new()),
                "super" => Some(here[..here.len().saturating_sub(1)].to_vec()),
                "self" => Some(here.clone()),
                // `use child::…` (not `pub use`: a facade) of the module's own child.
                child
                    if i > 0
                        && toks[i - 1] == Token::Ident("use".into())
                        && (i < 2
                            || toks[i - 2] != Token::Ident("pub".into())
                                && toks[i - 2] != Token::Other) =>
                {
                    let mut p = here.clone();
                    p.push(child.to_string());
                    modules.contains_key(&p.join("::")).then_some(here.clone())
                }
                _ => None,
            };
            let Some(base) = base else { continue };
            let start = if matches!(word.as_str(), "crate" | "super" | "self") {
                i + 2
            } else {
                i
            };
            paths(&toks, start, base, &mut named);
        }
        let targets: BTreeSet<String> = named
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|m| m != module && m != "crate")
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A circle through `start`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, trail)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut found = trail.clone();
                found.push(start.to_string());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut t = trail.clone();
                t.push(next.clone());
                stack.push((next.clone(), t));
            }
        }
    }
    None
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let modules = modules();
    assert!(modules.len() > 40, "found {} modules", modules.len());
    let graph = imports(&modules);
    // The checker sees imports at all: a few that must be there.
    for (from, to) in [
        ("routes::runs", "auth::people"),
        ("state", "live"),
        ("store::sqlite::writer", "store::rules"),
        ("auth::signed", "auth::runner"),
    ] {
        assert!(graph[from].contains(to), "{from} should import {to}");
    }
    let circles: Vec<String> = modules
        .keys()
        .filter_map(|m| circle(&graph, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn no_route_file_imports_another() {
    let graph = imports(&modules());
    for (from, to) in &graph {
        if from.starts_with("routes::") {
            for t in to {
                assert!(
                    !t.starts_with("routes"),
                    "{from} imports {t}: shared helpers belong below the routes"
                );
            }
        }
    }
}
