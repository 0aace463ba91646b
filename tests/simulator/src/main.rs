//! wxsim: a loopback stand-in for the WeChat family of platforms, for
//! end-to-end tests. See README.md for the interface.

mod authorizer;
mod cj;
mod component;
mod control;
mod gate;
mod http;
mod jing;
mod oa;
mod result;
mod secure;
mod state;
mod wecom;

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http::{Reply, Req};
use crate::state::{Host, HostHandle, Mode, Sim, State, DEFAULT_TTL_S};

struct Args {
    token_ttl_s: u64,
    watch_stdin: bool,
}

const USAGE: &str = "usage: wxsim [--token-ttl-s N] [--watch-stdin]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        token_ttl_s: DEFAULT_TTL_S,
        watch_stdin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--watch-stdin" => args.watch_stdin = true,
            "--token-ttl-s" => {
                let v = it.next().ok_or("--token-ttl-s needs a value")?;
                args.token_ttl_s = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("bad --token-ttl-s {v:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wxsim: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("wxsim: {e}");
        std::process::exit(1);
    }
    // Not a return from main: the runtime would wait for the blocking stdin
    // reader, which never finishes while the parent keeps the pipe open.
    std::process::exit(0);
}

async fn run(args: Args) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Installed before the address line goes out, so a runner that signals
    // right after reading it still gets a clean exit.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    let primary = TcpListener::bind("127.0.0.1:0").await?;
    let dr = TcpListener::bind("127.0.0.1:0").await?;
    let control = TcpListener::bind("127.0.0.1:0").await?;
    let addrs = [
        primary.local_addr()?,
        dr.local_addr()?,
        control.local_addr()?,
    ];

    let (primary_tx, primary_rx) = watch::channel(Mode::Up);
    let (dr_tx, dr_rx) = watch::channel(Mode::Up);
    let (primary_applied_tx, primary_applied) = watch::channel(Mode::Up);
    let (dr_applied_tx, dr_applied) = watch::channel(Mode::Up);
    let sim = Arc::new(Sim {
        state: Mutex::new(State::new(args.token_ttl_s)),
        inflight: Arc::default(),
        hosts: [
            HostHandle {
                mode: primary_tx,
                applied: primary_applied,
            },
            HostHandle {
                mode: dr_tx,
                applied: dr_applied,
            },
        ],
    });

    tokio::spawn(run_host(
        sim.clone(),
        Host::Primary,
        primary,
        addrs[0],
        primary_rx,
        primary_applied_tx,
    ));
    tokio::spawn(run_host(
        sim.clone(),
        Host::Dr,
        dr,
        addrs[1],
        dr_rx,
        dr_applied_tx,
    ));
    tokio::spawn(run_control(sim.clone(), control));

    let line = format!(
        "{{\"primary\":\"http://{}\",\"dr\":\"http://{}\",\"control\":\"http://{}\"}}",
        addrs[0], addrs[1], addrs[2]
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);

    let stdin_closed = async {
        if !args.watch_stdin {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = stdin_closed => {}
    }
    Ok(())
}

/// One platform listener. `down` closes the listener and every connection
/// (so clients see real refusals and resets); `up` binds the same port again.
async fn run_host(
    sim: Arc<Sim>,
    host: Host,
    first: TcpListener,
    addr: SocketAddr,
    mut mode_rx: watch::Receiver<Mode>,
    applied: watch::Sender<Mode>,
) {
    let mut listener = Some(first);
    loop {
        let mode = *mode_rx.borrow_and_update();
        if mode == Mode::Down {
            listener = None;
            applied.send_replace(Mode::Down);
            if mode_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match bind_again(addr).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("wxsim: {} cannot bind {addr} again: {e}", host.name());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
        };
        applied.send_replace(mode);
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = l.accept() => match accepted {
                    Ok((stream, _)) => {
                        conns.spawn(serve_platform(sim.clone(), host, stream, mode_rx.clone()));
                    }
                    // Out of descriptors or the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                changed = mode_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let m = *mode_rx.borrow_and_update();
                    if m == Mode::Down {
                        conns.abort_all();
                        while conns.join_next().await.is_some() {}
                        drop(l);
                        applied.send_replace(Mode::Down);
                        break;
                    }
                    applied.send_replace(m);
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    }
}

/// The port was ours a moment ago; a few retries cover a slow release.
async fn bind_again(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..20 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
}

/// Returned by a stalled request so hyper drops the connection unanswered.
#[derive(Debug)]
struct Stalled;

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host stalled")
    }
}

impl std::error::Error for Stalled {}

async fn serve_platform(
    sim: Arc<Sim>,
    host: Host,
    stream: TcpStream,
    mode_rx: watch::Receiver<Mode>,
) {
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req: Request<Incoming>| {
        let sim = sim.clone();
        let mut mode_rx = mode_rx.clone();
        async move {
            {
                let mut st = sim.lock();
                match host {
                    Host::Primary => st.counters.primary += 1,
                    Host::Dr => st.counters.dr += 1,
                }
            }
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if *mode_rx.borrow_and_update() == Mode::Stall {
                let _ = mode_rx.changed().await;
                return Err(Stalled);
            }
            let req = Req::new(parts.method, &parts.uri, parts.headers, body);
            let reply = route(&sim, &req);
            let latency = {
                let c = &sim.lock().config;
                let extra = if is_token_path(&req.path) {
                    c.token_latency_ms
                } else {
                    0
                };
                c.latency_ms + extra
            };
            if latency > 0 {
                tokio::time::sleep(Duration::from_millis(latency)).await;
            }
            Ok::<_, Stalled>(reply.into_response())
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn is_token_path(path: &str) -> bool {
    matches!(
        path,
        "/cgi-bin/token"
            | "/cgi-bin/stable_token"
            | "/cgi-bin/gettoken"
            | "/jing/token"
            | "/jing/refresh"
            | "/cj/token"
            | "/cgi-bin/component/api_component_token"
            | "/cgi-bin/service/get_suite_token"
    )
}

/// Every platform shares one host, as the platforms' paths do not collide
/// except where the token tells them apart.
fn route(sim: &Sim, req: &Req) -> Reply {
    let p = req.path.as_str();
    if p.starts_with("/jing/") {
        jing::handle(sim, req)
    } else if p.starts_with("/cj/") {
        cj::handle(sim, req)
    } else if p.starts_with("/result/") {
        result::handle(sim, req)
    } else if p.starts_with("/cgi-bin/component/") || p.starts_with("/cgi-bin/service/") {
        component::handle(sim, req)
    } else {
        match p {
            "/cgi-bin/gettoken" | "/cgi-bin/message/send" => wecom::handle(sim, req),
            "/cgi-bin/user/get" if wecom::owns(sim, req) => wecom::handle(sim, req),
            "/cgi-bin/media/upload" | "/cgi-bin/media/get" if wecom::owns(sim, req) => {
                oa::media(sim, req, state::Platform::WeCom)
            }
            _ => oa::handle(sim, req),
        }
    }
}

async fn run_control(sim: Arc<Sim>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let sim = sim.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let sim = sim.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let req = Req::new(parts.method, &parts.uri, parts.headers, body);
                    Ok::<Response<Full<Bytes>>, Infallible>(
                        control::handle(&sim, req).await.into_response(),
                    )
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
