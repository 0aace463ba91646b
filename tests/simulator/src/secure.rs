//! WeChat server API security on the platform's side, for the end-to-end
//! tests: an app registered with `api_security` must send sealed, signed
//! requests to `/wxa/getuserriskrank`; the answer comes back sealed and
//! signed with the platform's key. Written from the platform's rules, not
//! from wxcore's code (which is the other side).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::pss::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::gate::Fail;
use crate::http::{Reply, Req};

/// An app's API-security material, as registered through `/apps`.
pub struct SecureApp {
    key: [u8; 32],
    sym_sn: String,
    app_key: VerifyingKey<Sha256>,
    platform_key: SigningKey<Sha256>,
    serial: String,
}

fn private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pkcs1_pem(pem.trim())
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem.trim()))
        .map_err(|_| "not an RSA private key in PEM".to_string())
}

impl SecureApp {
    /// `{sym_key, sym_sn, app_key (the app's key pair, PEM: its public half
    /// checks requests), platform_key (PEM), platform_serial}`.
    pub fn from_json(v: &Value) -> Result<SecureApp, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or(format!("api_security.{k} must be a string"))
        };
        let key: [u8; 32] = STANDARD
            .decode(s("sym_key")?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("api_security.sym_key must be base64 of 32 bytes")?;
        Ok(SecureApp {
            key,
            sym_sn: s("sym_sn")?.to_string(),
            app_key: VerifyingKey::new(private_key(s("app_key")?)?.to_public_key()),
            platform_key: SigningKey::new(private_key(s("platform_key")?)?),
            serial: s("platform_serial")?.to_string(),
        })
    }

    /// Checks and opens a request, then seals and signs the answer.
    pub fn handle(&self, app_id: &str, req: &Req, now_s: u64) -> Result<Reply, Fail> {
        let url = format!(
            "http://{}{}",
            req.header("host").unwrap_or_default(),
            req.path
        );
        let h = |name: &str, code: i64| {
            req.header(name)
                .map(str::to_string)
                .ok_or_else(|| Fail::new(code, &format!("missing {name}")))
        };
        let appid = h("wechatmp-appid", 40233)?;
        let ts = h("wechatmp-timestamp", 40231)?;
        let sig = h("wechatmp-signature", 40232)?;
        if appid != app_id {
            return Err(Fail::new(40236, "invalid appid"));
        }
        let ts_n: u64 = ts
            .parse()
            .map_err(|_| Fail::new(40231, "invalid timestamp"))?;
        if ts_n.abs_diff(now_s) > 300 {
            return Err(Fail::new(40240, "timestamp expired"));
        }
        let signed = [
            url.as_bytes(),
            b"\n",
            appid.as_bytes(),
            b"\n",
            ts.as_bytes(),
            b"\n",
            &req.body,
        ]
        .concat();
        let good = STANDARD
            .decode(&sig)
            .ok()
            .and_then(|b| Signature::try_from(b.as_slice()).ok())
            .is_some_and(|s| self.app_key.verify(&signed, &s).is_ok());
        if !good {
            return Err(Fail::new(40234, "invalid signature"));
        }
        let plain = self
            .open(&url, &appid, ts_n, &req.body)
            .ok_or_else(|| Fail::new(40235, "invalid encryption"))?;
        let p: Value =
            serde_json::from_slice(&plain).map_err(|_| Fail::new(40235, "invalid encryption"))?;
        if p.get("_appid").and_then(Value::as_str) != Some(&appid)
            || p.get("_timestamp").and_then(Value::as_u64) != Some(ts_n)
            || p.get("_n")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(Fail::new(
                40235,
                "invalid encryption: _n, _appid, _timestamp",
            ));
        }
        let answer = json!({"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": 0,
                            "openid": p.get("openid").cloned().unwrap_or(Value::Null)});
        Ok(self.seal_reply(&url, &appid, now_s, answer.to_string().as_bytes()))
    }

    fn open(&self, url: &str, appid: &str, ts: u64, body: &[u8]) -> Option<Vec<u8>> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let b = |k: &str| STANDARD.decode(v.get(k)?.as_str()?).ok();
        let (iv, mut data, tag) = (b("iv")?, b("data")?, b("authtag")?);
        if iv.len() != 12 {
            return None;
        }
        data.extend_from_slice(&tag);
        let aad = format!("{url}|{appid}|{ts}|{}", self.sym_sn);
        Aes256Gcm::new(&self.key.into())
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &data,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }

    fn seal_reply(&self, url: &str, appid: &str, ts: u64, plain: &[u8]) -> Reply {
        let mut iv = [0u8; 12];
        OsRng.fill_bytes(&mut iv);
        let aad = format!("{url}|{appid}|{ts}|{}", self.sym_sn);
        let mut sealed = Aes256Gcm::new(&self.key.into())
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("in-memory encryption");
        let tag = sealed.split_off(sealed.len() - 16);
        let body = json!({"iv": STANDARD.encode(iv), "data": STANDARD.encode(&sealed), "authtag": STANDARD.encode(&tag)})
            .to_string();
        let signed = format!("{url}\n{appid}\n{ts}\n{body}");
        let sig = STANDARD.encode(
            self.platform_key
                .sign_with_rng(&mut OsRng, signed.as_bytes())
                .to_bytes(),
        );
        let mut reply = Reply::ok(Value::Null);
        reply.body = body.into();
        reply.headers.extend([
            ("wechatmp-appid", appid.to_string()),
            ("wechatmp-timestamp", ts.to_string()),
            ("wechatmp-serial", self.serial.clone()),
            ("wechatmp-signature", sig),
        ]);
        reply
    }
}
