#!/usr/bin/env python3
"""Writes tests/vectors/source/pushes.json: encrypted ticket and
authorization pushes for the third-party platform scenarios
(`python3 make_pushes.py`; `--check` fails if the file is stale).

Each push is sealed here with Python's `cryptography` (AES-256-CBC, PKCS#7
to 32 bytes, WXBizMsgCrypt framing) under the published sample key of
EasyWeChat's open-platform server test (component wx5823bf96d3bd56c7, token
QDG6eK), with a fixed 16-byte prefix per push, so the ciphertexts never come
from the code under test. Plaintexts follow the official samples: the ticket
push of component_verify_ticket.html (its `some_appid` kept as the foreign
component), the unauthorized event with the `<?xml ?>` prolog, and WeCom's
suite_ticket sample (W/90628) sealed for its suite id."""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pushes.json")
TOKEN = "QDG6eK"
KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
COMPONENT = "wx5823bf96d3bd56c7"
SUITE = "ww4asffe99e54c0fxxxx"


def seal(msg, receive_id, random16):
    key = base64.b64decode(KEY + "=")
    body = msg.encode()
    raw = random16 + len(body).to_bytes(4, "big") + body + receive_id.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def push(plain, receive_id, seed, timestamp, nonce, outer_id):
    encrypt = seal(plain, receive_id, hashlib.sha256(seed.encode()).digest()[:16])
    sig = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce, encrypt])).encode()).hexdigest()
    outer = "AppId" if receive_id == COMPONENT else "ToUserName"
    return {
        "plaintext": plain,
        "query": {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes", "msg_signature": sig},
        "body": f"<xml><{outer}><![CDATA[{outer_id}]]></{outer}><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
    }


def ticket(appid, created, value):
    return (f"<xml><AppId>{appid}</AppId><CreateTime>{created}</CreateTime>"
            f"<InfoType>component_verify_ticket</InfoType>"
            f"<ComponentVerifyTicket>{value}</ComponentVerifyTicket></xml>")


def main():
    pushes = {
        "ticket_1": push(ticket(COMPONENT, 1700000000, "ticket@@@one"), COMPONENT, "t1", "1700000000", "101", COMPONENT),
        "ticket_2": push(ticket(COMPONENT, 1700000600, "ticket@@@two"), COMPONENT, "t2", "1700000600", "102", COMPONENT),
        "ticket_old": push(ticket(COMPONENT, 1699999400, "ticket@@@old"), COMPONENT, "t0", "1699999400", "100", COMPONENT),
        "ticket_same_time": push(ticket(COMPONENT, 1700000600, "ticket@@@again"), COMPONENT, "t2b", "1700000601", "103",
                                 COMPONENT),
        # Sealed with this component's keys and receive id, yet naming another component.
        "ticket_foreign": push(ticket("some_appid", 1700000900, "some_verify_ticket"), COMPONENT, "tf", "1700000900",
                               "104", "some_appid"),
        "ticket_no_value": push(f"<xml><AppId>{COMPONENT}</AppId><CreateTime>1700001000</CreateTime>"
                                "<InfoType>component_verify_ticket</InfoType></xml>",
                                COMPONENT, "tn", "1700001000", "105", COMPONENT),
        "malformed": push("<xml><AppId>" + COMPONENT + "</AppId><InfoType>component_verify_ticket",
                          COMPONENT, "tm", "1700001100", "106", COMPONENT),
        "unauthorized": push('<?xml version="1.0"?><xml><AppId>' + COMPONENT + "</AppId><CreateTime>1700001200"
                             "</CreateTime><InfoType>unauthorized</InfoType>"
                             "<AuthorizerAppid>wxAUTH1</AuthorizerAppid></xml>",
                             COMPONENT, "tu", "1700001200", "107", COMPONENT),
        # The authorized event as the open platform documents it (授权成功通知).
        "authorized": push(f"<xml><AppId>{COMPONENT}</AppId><CreateTime>1700001300</CreateTime>"
                           "<InfoType>authorized</InfoType><AuthorizerAppid>wxAUTH1</AuthorizerAppid>"
                           "<AuthorizationCode>queryauthcode@@@one</AuthorizationCode>"
                           "<AuthorizationCodeExpiredTime>1700004900</AuthorizationCodeExpiredTime>"
                           "<PreAuthCode>preauthcode@@@one</PreAuthCode></xml>",
                           COMPONENT, "ta", "1700001300", "108", COMPONENT),
        "authorized_no_code": push(f"<xml><AppId>{COMPONENT}</AppId><CreateTime>1700001400</CreateTime>"
                                   "<InfoType>authorized</InfoType><AuthorizerAppid>wxAUTH1</AuthorizerAppid></xml>",
                                   COMPONENT, "tc", "1700001400", "109", COMPONENT),
        "suite_ticket": push("<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId>"
                             "<InfoType><![CDATA[suite_ticket]]></InfoType><TimeStamp>1403610513</TimeStamp>"
                             "<SuiteTicket><![CDATA[asdfasfdasdfasdf]]></SuiteTicket></xml>",
                             SUITE, "s1", "1403610513", "201", SUITE),
        # W/90642's create_auth and cancel_auth samples, for this suite.
        "create_auth": push("<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId>"
                            "<AuthCode><![CDATA[AUTHCODE]]></AuthCode><InfoType><![CDATA[create_auth]]></InfoType>"
                            "<TimeStamp>1403610513</TimeStamp><State><![CDATA[123]]></State></xml>",
                            SUITE, "s2", "1403610513", "202", SUITE),
        "cancel_auth": push("<xml><SuiteId><![CDATA[ww4asffe99e54c0fxxxx]]></SuiteId>"
                            "<InfoType><![CDATA[cancel_auth]]></InfoType><TimeStamp>1403610513</TimeStamp>"
                            "<AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId></xml>",
                            SUITE, "s3", "1403610513", "203", SUITE),
    }
    doc = {"about": __doc__.strip(), "token": TOKEN, "encoding_aes_key": KEY, "component_appid": COMPONENT,
           "suite_id": SUITE, "pushes": pushes}
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit("stale: " + OUT)
        print("pushes checked")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
