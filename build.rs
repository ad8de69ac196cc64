//! Embeds the shipped rules (`rules/`) and knowledge base (`kb/`) in the binary.
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

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut code = String::new();
    for (name, dir, ext) in [("RULES", "rules", "yaml"), ("KB", "kb", "md")] {
        let d = root.join(dir);
        println!("cargo:rerun-if-changed={}", d.display());
        let mut files = Vec::new();
        collect(&d, ext, &mut files);
        files.sort();
        code.push_str(&table(name, &d, &files));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(out, code).unwrap();
}
