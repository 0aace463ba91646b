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
