//! Benchmark helper: run only harbor-lab's download step (streaming, md5
//! checked, `.partial` + rename) on one URL. Used by scripts/bench.sh.
//!
//!     cargo run --release --example fetch -- URL MD5 DEST

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, md5, dest] = args.as_slice() else {
        eprintln!("usage: fetch URL MD5 DEST");
        return std::process::ExitCode::from(2);
    };
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let spec = harbor_lab::installer::download::Spec {
        url: url.clone(),
        dest: dest.into(),
        md5: Some(md5.clone()),
        // The bench measures a GiB: no installer ceiling here.
        max_bytes: u64::MAX,
    };
    let ui = harbor_lab::ui::Reporter::silent();
    let result = rt.block_on(async {
        let client =
            harbor_lab::http::client(harbor_lab::http::Profile::Transfer).expect("an HTTP client");
        harbor_lab::installer::download::download(&client, &ui, &spec, 1).await
    });
    match result {
        Ok(d) => {
            println!("{} bytes, md5 {}", d.bytes, d.md5);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(4)
        }
    }
}
