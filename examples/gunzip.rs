//! Raw decompression speed of the gzip backend zkb is built with (flate2 + zlib-rs), for
//! `bench/scan.sh`: `cargo run --release --example gunzip -- FILE.gz`.
use std::io::Read;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: gunzip FILE.gz");
    let file = std::fs::File::open(&path).expect("open");
    let t = Instant::now();
    let mut dec =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => panic!("{e}"),
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{total} bytes in {s:.3} s ({:.0} MB/s)",
        total as f64 / 1e6 / s
    );
}
