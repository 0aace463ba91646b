//! `wxcore-server --config wxcore-server.toml`: the central token server of
//! seed 004 §3.4 on the wxcore engine. The engine decides (when to fetch,
//! refresh, invalidate, retry, fail over, count quotas); this program
//! authenticates callers, checks their rights, writes the audit log and
//! speaks HTTP.

mod api;
mod audit;
mod monitor;
mod settings;
mod status_page;

use std::net::SocketAddr;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.iter().position(|a| a == "--config") {
        Some(i) => args.get(i + 1).cloned(),
        None => None,
    };
    let Some(path) = path else {
        eprintln!("usage: wxcore-server --config <wxcore-server.toml|.json>");
        std::process::exit(2);
    };
    let settings = match settings::Settings::load(&path) {
        Ok(s) => s,
        Err(e) => {
            // The message names the field, never its value (a secret's place stays quiet).
            eprintln!("wxcore-server: config error: {}: {}", e.field, e.message);
            std::process::exit(2);
        }
    };
    let addr: SocketAddr = match settings.server.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "wxcore-server: config error: server.listen: `{}` is not host:port",
                settings.server.listen
            );
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = rt.block_on(run(settings, addr)) {
        eprintln!("wxcore-server: {e}");
        std::process::exit(1);
    }
}

async fn run(settings: settings::Settings, addr: SocketAddr) -> Result<(), String> {
    let audit = audit::Audit::open(&settings.server.audit_log)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let server = api::Server::start(settings, audit).await?;
    let server = Arc::new(server);
    // The address actually bound (port 0 picks one): tests and `make serve` read it.
    println!(
        "{{\"listening\":\"http://{}\"}}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    tokio::select! {
        r = api::serve(server.clone(), listener) => r,
        _ = stop => {
            server.audit.flush().await;
            Ok(())
        }
    }
}
