//! KB speed: index build (in memory and on disk), reopening a cached index, and search latency
//! over the symptom queries of `tests/eval/queries.jsonl`. Run with
//! `cargo run --release --example kb_bench`; `bench/kb.sh` runs it with the CLI timings.

use std::time::{Duration, Instant};

use zkb::kb::Kb;
use zkb::search::KbIndex;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let kb = Kb::embedded();
    let mut builds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = KbIndex::open(&kb, None).expect("index builds");
        builds.push(t.elapsed());
    }
    builds.sort();
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let _ = KbIndex::open(&kb, Some(dir.path())).expect("index builds on disk");
    let disk_build = t.elapsed();
    let t = Instant::now();
    let index = KbIndex::open(&kb, Some(dir.path())).expect("index reopens");
    let reopen = t.elapsed();
    assert!(!index.built);
    let queries: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/eval/queries.jsonl"
    ))
    .expect("queries")
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .filter_map(|v| v["query"].as_str().map(str::to_string))
    .collect();
    let mut lat = Vec::new();
    for _ in 0..20 {
        for q in &queries {
            let t = Instant::now();
            let hits = index.search(q, 5).expect("search");
            lat.push(t.elapsed());
            std::hint::black_box(hits);
        }
    }
    lat.sort();
    println!("kb entries: {}", kb.entries.len());
    println!(
        "index build in memory: median {:.1} ms (5 runs)",
        builds[2].as_secs_f64() * 1e3
    );
    println!(
        "index build on disk: {:.1} ms; reopen cached: {:.1} ms",
        disk_build.as_secs_f64() * 1e3,
        reopen.as_secs_f64() * 1e3
    );
    println!(
        "search: {} queries x 20, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        queries.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().expect("some").as_secs_f64() * 1e3
    );
}
