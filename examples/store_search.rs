//! Search latency of the incident store, in process: `cargo run --release --example
//! store_search -- DATA_DIR N` runs N searches (words taken from what a week of incidents
//! holds) and prints p50, p99 and max in milliseconds. Used by bench/store.sh.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("a data dir");
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let store = zkb::store::Store::open(std::path::Path::new(&dir)).expect("the store opens");
    let queries = [
        "blob",
        "missing blob",
        "mbx2",
        "u17",
        "store",
        "GetMsgRequest",
        "mailbox 42",
        "u199 blob",
        "nothing-matches-this",
        "MailServiceException",
    ];
    let mut times: Vec<f64> = (0..n)
        .map(|i| {
            let t = Instant::now();
            let hits = store
                .search(queries[i % queries.len()], &Default::default(), 20)
                .expect("search");
            std::hint::black_box(hits);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "search_ms p50={:.2} p99={:.2} max={:.2} n={n}",
        pct(0.50),
        pct(0.99),
        times[times.len() - 1]
    );
}
