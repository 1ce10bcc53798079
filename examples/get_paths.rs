//! Benchmark helper: GET every path of a `verify_paths` list (scripts/bench.sh,
//! paths separated by blanks or newlines) from a plain-HTTP registry, with the
//! HTTP client `verify` uses (reqwest, the transfer profile, its manifest
//! Accept header, one thread, 16 requests in flight as `--jobs`), reading each
//! body whole (a 200, or a 404 for the fallback tag of an image with no
//! bundle) and nothing else: no order between the requests, no parsing, no
//! checks. What the requested HTTP
//! stack costs on its own for the requests of a batch verify.
//!
//!     cargo run --release --example get_paths -- REGISTRY PATHS [JOBS]

use futures_util::StreamExt;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (registry, list, jobs) = match args.as_slice() {
        [_, r, l] => (r, l, 16),
        [_, r, l, j] => match j.parse::<usize>() {
            Ok(j) if j > 0 => (r, l, j),
            _ => return usage(),
        },
        _ => return usage(),
    };
    let text = match std::fs::read_to_string(list) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {list}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let urls: Vec<String> = text
        .split_whitespace()
        .map(|p| format!("http://{registry}{p}"))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = rt.block_on(async {
        let client = harbor_lab::http::builder(harbor_lab::http::Profile::Transfer)
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let mut gets = futures_util::stream::iter(&urls)
            .map(|url| {
                let client = &client;
                async move {
                    let resp = client
                        .get(url)
                        .header(
                            reqwest::header::ACCEPT,
                            harbor_lab::registry::MANIFEST_ACCEPT,
                        )
                        .send()
                        .await
                        .map_err(|e| format!("{url}: {e}"))?;
                    // The fallback tag of an image with no bundle is a 404, as in `verify`.
                    let status = resp.status();
                    if status != reqwest::StatusCode::OK && status != reqwest::StatusCode::NOT_FOUND
                    {
                        return Err(format!("{url}: {status}"));
                    }
                    harbor_lab::http::read_limited(resp, harbor_lab::registry::MANIFEST_LIMIT)
                        .await
                        .map(|b| b.len())
                        .map_err(|e| e.to_string())
                }
            })
            .buffer_unordered(jobs);
        let mut bytes = 0;
        while let Some(r) = gets.next().await {
            bytes += r?;
        }
        Ok::<_, String>(bytes)
    });
    match result {
        Ok(bytes) => {
            println!("{} requests, {bytes} bytes", urls.len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(4)
        }
    }
}

fn usage() -> std::process::ExitCode {
    eprintln!("usage: get_paths REGISTRY PATHS [JOBS]");
    std::process::ExitCode::from(2)
}
