//! The audit log: one JSON line per request — time, caller, app, action,
//! token id, result. Never a token, ticket or key: the token id is a hash.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Line(String),
    Flush(oneshot::Sender<()>),
}

/// Lines go to a writer task, so a request never waits on the disk.
pub struct Audit {
    tx: mpsc::UnboundedSender<Msg>,
    /// Records written per result, for `/metrics`: results come from a
    /// bounded set (ok, forbidden, error kinds, relayed status codes).
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Audit {
    /// `-`: standard output; otherwise a file, appended to.
    pub fn open(path: &str) -> Result<Audit, String> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the audit log `{path}`: {e}"))?,
            )
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut w = std::io::BufWriter::new(out);
            while let Some(m) = rx.blocking_recv() {
                let mut next = Some(m);
                // Write what is queued, then flush once.
                while let Some(m) = next.take() {
                    match m {
                        Msg::Line(l) => {
                            let _ = w.write_all(l.as_bytes());
                        }
                        Msg::Flush(done) => {
                            let _ = w.flush();
                            let _ = done.send(());
                        }
                    }
                    next = rx.try_recv().ok();
                }
                let _ = w.flush();
            }
        });
        Ok(Audit {
            tx,
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn log(&self, caller: &str, app: &str, action: &str, token_id: Option<&str>, result: &str) {
        // Written by hand: this runs on every request. Names and results are
        // escaped as JSON strings; the token id is hex.
        let s = |v: &str| serde_json::Value::from(v).to_string();
        let id = token_id.map_or_else(|| "null".to_string(), s);
        let line = format!(
            "{{\"action\":{},\"app\":{},\"caller\":{},\"result\":{},\"token_id\":{id},\"ts_ms\":{}}}\n",
            s(action),
            s(app),
            s(caller),
            s(result),
            wxcore_client::now_ms()
        );
        let _ = self.tx.send(Msg::Line(line));
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(result.to_string())
            .or_default() += 1;
    }

    /// Records written so far, by result.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}
