"""The published callback and JS-SDK values (tests/vectors/crypto-official.json), byte for byte."""

import json
import os

import pytest

from wxcore import CallbackCrypto, WxError, jssdk_config, jssdk_signature

HERE = os.path.dirname(__file__)
VECTORS = json.load(open(os.path.join(HERE, "..", "..", "..", "tests", "vectors", "crypto-official.json"), encoding="utf-8"))


def body(encrypt):
    return f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


@pytest.mark.parametrize("v", VECTORS["callback"], ids=lambda v: v["name"])
def test_official_callbacks_decrypt(v):
    c = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    assert c.decrypt(v["msg_signature"], v["timestamp"], v["nonce"], body(v["encrypt"])) == v["plaintext"]
    assert c.decrypt(v["msg_signature"], v["timestamp"], v["nonce"], json.dumps({"encrypt": v["encrypt"]}).encode()) == v["plaintext"]
    m = c.decrypt_message(v["msg_signature"], v["timestamp"], v["nonce"], body(v["encrypt"]))
    assert m.to_user and m.from_user and m.create_time


def test_url_verification_both_styles():
    for v in VECTORS["url_verification_plain"]:
        c = CallbackCrypto(v["token"], "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "")
        assert c.verify_url(v["signature"], v["timestamp"], v["nonce"], v["echostr"]) == v["echostr"]
    w = VECTORS["callback"][1]
    u = w["verify_url"]
    c = CallbackCrypto(w["token"], w["encoding_aes_key"], w["receive_id"])
    assert c.verify_url(u["msg_signature"], u["timestamp"], u["nonce"], u["echostr"]) == u["reply"]
    with pytest.raises(WxError) as e:
        c.verify_url("0" * 40, u["timestamp"], u["nonce"], u["echostr"])
    assert (e.value.kind, e.value.reason) == ("signature_invalid", "bad_signature")


def test_jssdk():
    for v in VECTORS["jssdk"]:
        assert jssdk_signature(v["jsapi_ticket"], v["noncestr"], v["timestamp"], v["url"]) == v["signature"]
        assert jssdk_signature(v["jsapi_ticket"], v["noncestr"], int(v["timestamp"]), v["url"] + "#x") == v["signature"]
        cfg = jssdk_config("wxAPP", v["jsapi_ticket"], v["url"], v["noncestr"], v["timestamp"])
        assert cfg == {"appId": "wxAPP", "timestamp": v["timestamp"], "nonceStr": v["noncestr"], "signature": v["signature"]}


def test_encrypt_round_trip_and_refusals():
    v = VECTORS["callback"][0]
    c = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    for msg in ["", "你好 🌏", "x" * 1_048_576]:
        xml = c.encrypt(msg, "1409735669", "n1")
        sig = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        assert c.decrypt(sig, "1409735669", "n1", xml) == msg
    other = CallbackCrypto(v["token"], v["encoding_aes_key"], "wxOTHER")
    xml = other.encrypt("hi", "1", "n")
    sig = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    with pytest.raises(WxError) as e:
        c.decrypt(sig, "1", "n", xml)
    assert e.value.reason == "receive_id_mismatch"
    relaxed = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"], accept_receive_ids=[v["receive_id"], "wxOTHER"])
    assert relaxed.decrypt(sig, "1", "n", xml) == "hi"
    with pytest.raises(WxError) as e:
        CallbackCrypto("t", "short", "x")
    assert (e.value.kind, e.value.reason) == ("config", "invalid_encoding_aes_key")
    strict = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"], max_age_s=300)
    with pytest.raises(WxError) as e:
        strict.decrypt(v["msg_signature"], v["timestamp"], v["nonce"], body(v["encrypt"]), now_s=int(v["timestamp"]) + 301)
    assert e.value.reason == "stale_timestamp"


@pytest.mark.parametrize("v", VECTORS["api_security_request"], ids=lambda v: v["name"])
def test_api_security_published_request_byte_for_byte(v):
    from wxcore import api_security_open, api_security_seal, api_security_sign, api_security_verify
    import base64

    url, appid, ts, pem = v["url"], v["appid"], v["timestamp"], v["rsa_private_key_pem"]
    body = api_security_seal(v["sym_key"], v["sym_sn"], appid, url, ts, base64.b64decode(v["iv"]), v["plaintext"])
    sealed = json.loads(body)
    assert (sealed["iv"], sealed["data"], sealed["authtag"]) == (v["iv"], v["data"], v["authtag"])
    assert api_security_verify(pem, url, appid, ts, body, v["signature"])
    assert not api_security_verify(pem, url, appid, ts + 1, body, v["signature"])
    assert api_security_open(v["sym_key"], v["sym_sn"], appid, url, ts, body) == v["plaintext"].encode()
    ours = api_security_sign(pem, url, appid, ts, body)
    assert api_security_verify(pem, url, appid, ts, body, ours)
    with pytest.raises(WxError) as e:  # another AAD (timestamp) does not open
        api_security_open(v["sym_key"], v["sym_sn"], appid, url, ts + 1, body)
    assert e.value.kind == "signature_invalid"


def test_handle_request_url_checks_messages_and_replies():
    from wxcore import Inbound  # noqa: F401 - exported

    p = VECTORS["url_verification_plain"][0]
    c = CallbackCrypto(p["token"], "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx")
    r = c.handle_request("GET", {"signature": p["signature"], "timestamp": p["timestamp"], "nonce": p["nonce"],
                                 "echostr": p["echostr"]})
    assert r.echo == p["echostr"] and r.message is None
    w = VECTORS["callback"][1]
    u = w["verify_url"]
    r = CallbackCrypto(w["token"], w["encoding_aes_key"], w["receive_id"]).handle_request(
        "GET", {"msg_signature": [u["msg_signature"]], "timestamp": u["timestamp"], "nonce": u["nonce"], "echostr": u["echostr"]})
    assert r.echo == u["reply"]
    v = VECTORS["callback"][0]
    c = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
    r = c.handle_request("POST", {"msg_signature": v["msg_signature"], "timestamp": v["timestamp"], "nonce": v["nonce"],
                                  "encrypt_type": "aes"}, body.encode())
    assert r.echo is None and r.plaintext == v["plaintext"] and r.message.msg_type == "text"
    # A reply comes back through the same glue (as the platform would check it).
    reply = c.reply("<xml><Content><![CDATA[收到]]></Content></xml>")
    q = {k: reply.split(f"<{t}>")[1].split(f"</{t}>")[0].replace("<![CDATA[", "").replace("]]>", "")
         for k, t in [("msg_signature", "MsgSignature"), ("timestamp", "TimeStamp"), ("nonce", "Nonce")]}
    assert c.handle_request("POST", q, reply).message["Content"] == "收到"
    with pytest.raises(WxError) as e:
        c.handle_request("POST", {"timestamp": "1", "nonce": "2"}, body)
    assert e.value.kind == "invalid_request" and e.value.reason == "missing_param"


def test_a_peer_implementation_accepts_our_reply_and_we_accept_its_message():
    from wechatpy.crypto import WeChatCrypto  # the most used Python SDK, as the other side

    v = VECTORS["callback"][0]
    ours = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    peer = WeChatCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
    reply = ours.reply("<xml><Content><![CDATA[hello 你好]]></Content></xml>", now_s=1714036504)
    nonce = reply.split("<Nonce><![CDATA[")[1].split("]]>")[0]
    sig = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert "hello 你好" in peer.decrypt_message(reply, sig, "1714036504", nonce)
    pushed = peer.encrypt_message("<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>",
                                  "12345", "1714036504")
    sig = pushed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    r = ours.handle_request("POST", {"msg_signature": sig, "timestamp": "1714036504", "nonce": "12345"}, pushed)
    assert r.message.event == "subscribe"
