//! Embeds the shipped rules (`rules/`), knowledge base (`kb/`) and preflight checks (`checks/`) in the binary, and the rules
//! once more without their `tests:` blocks: those make up most of the YAML, and a scan, which
//! never reads them, parses the lean copy in less than half the time.
use std::fs;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, ext, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(path);
        }
    }
}

fn table(name: &str, root: &Path, files: &[PathBuf]) -> String {
    let mut s = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for f in files {
        let rel = f.strip_prefix(root.parent().unwrap()).unwrap();
        s.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.to_string_lossy().replace('\\', "/"),
            f.canonicalize().unwrap()
        ));
    }
    s.push_str("];\n");
    s
}

/// The rule file with every `tests:` block turned into blank lines, so line numbers stay those
/// of the real file. A block is the `tests:` key and the lines after it that are blank or
/// indented deeper. (`rules::tests::lean_rules_are_the_full_rules_without_tests` proves the
/// result parses to the same rules.)
fn without_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut block_indent: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        if let Some(key_indent) = block_indent {
            if body.trim().is_empty() || indent > key_indent {
                out.push('\n');
                continue;
            }
            block_indent = None;
        }
        if body.trim_start().starts_with("tests:") {
            block_indent = Some(indent);
            out.push('\n');
            continue;
        }
        out.push_str(line);
    }
    out
}

fn lean_table(root: &Path, files: &[PathBuf], out_dir: &Path) -> String {
    let lean_dir = out_dir.join("lean-rules");
    fs::create_dir_all(&lean_dir).unwrap();
    let mut s = String::from("pub static RULES_LEAN: &[(&str, &str)] = &[\n");
    for (n, f) in files.iter().enumerate() {
        let rel = f.strip_prefix(root.parent().unwrap()).unwrap();
        let lean = lean_dir.join(format!("{n}.yaml"));
        fs::write(&lean, without_tests(&fs::read_to_string(f).unwrap())).unwrap();
        s.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.to_string_lossy().replace('\\', "/"),
            lean
        ));
    }
    s.push_str("];\n");
    s
}

/// The logs of the bundled upgrade night (one directory per host), for `zkb demo`.
fn demo_table(night: &Path) -> String {
    println!("cargo:rerun-if-changed={}", night.display());
    let mut files = Vec::new();
    for host in fs::read_dir(night).into_iter().flatten().flatten() {
        if host.path().is_dir() {
            for f in fs::read_dir(host.path()).into_iter().flatten().flatten() {
                files.push(f.path());
            }
        }
    }
    files.sort();
    let mut s = String::from("pub static DEMO: &[(&str, &[u8])] = &[\n");
    for f in files {
        let rel = f.strip_prefix(night).unwrap();
        s.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            rel.to_string_lossy().replace('\\', "/"),
            f.canonicalize().unwrap()
        ));
    }
    s.push_str("];\n");
    s
}

/// The commit the binary is built from, for `zkb --version`: `$ZKB_GIT_COMMIT` (set by a
/// package build from a tarball), else `git rev-parse`, else "unknown".
fn git_commit(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=ZKB_GIT_COMMIT");
    for f in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if root.join(f).exists() {
            println!("cargo:rerun-if-changed={}", root.join(f).display());
        }
    }
    if let Ok(c) = std::env::var("ZKB_GIT_COMMIT") {
        return c;
    }
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut code = String::new();
    for (name, dir, ext) in [
        ("RULES", "rules", "yaml"),
        ("KB", "kb", "md"),
        ("CHECKS", "checks", "yaml"),
    ] {
        let d = root.join(dir);
        println!("cargo:rerun-if-changed={}", d.display());
        let mut files = Vec::new();
        collect(&d, ext, &mut files);
        files.sort();
        code.push_str(&table(name, &d, &files));
        if name == "RULES" {
            code.push_str(&lean_table(&d, &files, &out_dir));
        }
    }
    code.push_str(&demo_table(&root.join("examples/upgrade-night")));
    code.push_str(&format!(
        "pub const GIT_COMMIT: &str = {:?};\n",
        git_commit(&root)
    ));
    let out = out_dir.join("embedded.rs");
    fs::write(out, code).unwrap();
}
