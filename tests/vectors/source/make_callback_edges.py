#!/usr/bin/env python3
"""Writes tests/vectors/callback-edges.json: the forged URL checks, the
plaintexts that are not one message, and the nested menu/location events
that every language's callback tests run (`python3 make_callback_edges.py`).

Needs the `cryptography` package (AES-CBC for the observed ciphertexts)."""
import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "zzEdgeToken"  # sorts after every base64 character: the re-cut below is simple
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
RECEIVE_ID = "wwEDGE"


def sig(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def seal(msg, random16):
    key = base64.b64decode(KEY + "=")
    raw = random16 + len(msg.encode()).to_bytes(4, "big") + msg.encode() + RECEIVE_ID.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(raw) + enc.finalize()).decode()


def recut(timestamp, nonce, fourth):
    """Three parts whose sorted concatenation with the token equals the
    four observed ones': the observed signature then passes a three-part check."""
    parts = sorted([TOKEN, timestamp, nonce, fourth])
    assert parts[-1] == TOKEN
    a, b = parts[0] + parts[1], parts[2]
    assert sorted([TOKEN, a, b]) == [a, b, TOKEN]
    assert sig(TOKEN, a, b) == sig(TOKEN, timestamp, nonce, fourth)
    return a, b


def main():
    ts, nonce = "1700000000", "4242"
    echostr = seal("echo-7", bytes(range(16)))
    url_sig = sig(TOKEN, ts, nonce, echostr)
    encrypt = seal("<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>",
                   bytes(range(16, 32)))
    post_sig = sig(TOKEN, "1700000100", "777", encrypt)
    a, b = recut(ts, nonce, echostr)
    pa, pb = recut("1700000100", "777", encrypt)
    forged = "forged-echo"
    doc = {
        "about": "Callback edge cases every language runs (written by source/make_callback_edges.py). "
                 "The receiver is a WeCom-style one (url_check \"msg_signature\"); each forged URL check "
                 "re-cuts the parts of an observed four-part signature into a three-part one with an echostr "
                 "of the attacker's choosing, and must be refused with signature_invalid/bad_signature.",
        "receiver": {"token": TOKEN, "encoding_aes_key": KEY, "receive_id": RECEIVE_ID},
        "observed_url_check": {"query": {"msg_signature": url_sig, "timestamp": ts, "nonce": nonce,
                                         "echostr": echostr}, "echo": "echo-7"},
        "forged_url_checks": [
            {"name": "GET with signature (re-cut URL check)",
             "query": {"signature": url_sig, "timestamp": a, "nonce": b, "echostr": forged}},
            {"name": "GET with msg_signature (re-cut URL check)", "any_receiver": True,
             "query": {"msg_signature": url_sig, "timestamp": a, "nonce": b, "echostr": forged}},
            {"name": "re-cut observed POST",
             "observed_post": {"msg_signature": post_sig, "timestamp": "1700000100", "nonce": "777",
                               "encrypt": encrypt},
             "query": {"signature": post_sig, "timestamp": pa, "nonce": pb, "echostr": forged}},
        ],
        "not_one_message": ["invalid content", "\"just a string\"", "[]", "<xml><A>1</A></xml><xml/>",
                            "<xml><A>1</A></xml> trailing", "{\"a\": 1} []"],
        "nested_messages": [
            {"name": "scancode_waitmsg (menu event with ScanCodeInfo)",
             "plaintext": "<xml><ToUserName><![CDATA[gh_e136c6e50636]]></ToUserName>\n"
                          "<FromUserName><![CDATA[oMgHVjngRipVsoxg6TuX3vz6glDg]]></FromUserName>\n"
                          "<CreateTime>1408090502</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n"
                          "<Event><![CDATA[scancode_waitmsg]]></Event>\n<EventKey><![CDATA[6]]></EventKey>\n"
                          "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>\n"
                          "<ScanResult><![CDATA[2]]></ScanResult>\n</ScanCodeInfo>\n</xml>",
             "message": {"ToUserName": "gh_e136c6e50636", "FromUserName": "oMgHVjngRipVsoxg6TuX3vz6glDg",
                         "CreateTime": "1408090502", "MsgType": "event", "Event": "scancode_waitmsg",
                         "EventKey": "6", "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "2"}}},
            {"name": "location_select (menu event with SendLocationInfo)",
             "plaintext": "<xml><ToUserName><![CDATA[gh_e136c6e50636]]></ToUserName>\n"
                          "<FromUserName><![CDATA[oMgHVjngRipVsoxg6TuX3vz6glDg]]></FromUserName>\n"
                          "<CreateTime>1408091189</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n"
                          "<Event><![CDATA[location_select]]></Event>\n<EventKey><![CDATA[6]]></EventKey>\n"
                          "<SendLocationInfo><Location_X><![CDATA[23]]></Location_X>\n"
                          "<Location_Y><![CDATA[113]]></Location_Y>\n<Scale><![CDATA[15]]></Scale>\n"
                          "<Label><![CDATA[ 广州市海珠区客村艺苑路 106号]]></Label>\n"
                          "<Poiname><![CDATA[]]></Poiname>\n</SendLocationInfo>\n</xml>",
             "message": {"ToUserName": "gh_e136c6e50636", "FromUserName": "oMgHVjngRipVsoxg6TuX3vz6glDg",
                         "CreateTime": "1408091189", "MsgType": "event", "Event": "location_select",
                         "EventKey": "6",
                         "SendLocationInfo": {"Location_X": "23", "Location_Y": "113", "Scale": "15",
                                              "Label": " 广州市海珠区客村艺苑路 106号", "Poiname": ""}}},
            {"name": "pic_photo_or_album (SendPicsInfo, PicList, repeated item)",
             "plaintext": "<xml><ToUserName><![CDATA[gh_e136c6e50636]]></ToUserName>\n"
                          "<FromUserName><![CDATA[oMgHVjngRipVsoxg6TuX3vz6glDg]]></FromUserName>\n"
                          "<CreateTime>1408090816</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n"
                          "<Event><![CDATA[pic_photo_or_album]]></Event>\n<EventKey><![CDATA[6]]></EventKey>\n"
                          "<SendPicsInfo><Count>2</Count>\n<PicList>"
                          "<item><PicMd5Sum><![CDATA[5a75aaca956d97be686719218f275c6b]]></PicMd5Sum>\n</item>\n"
                          "<item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum>\n</item>\n"
                          "</PicList>\n</SendPicsInfo>\n</xml>",
             "message": {"ToUserName": "gh_e136c6e50636", "FromUserName": "oMgHVjngRipVsoxg6TuX3vz6glDg",
                         "CreateTime": "1408090816", "MsgType": "event", "Event": "pic_photo_or_album",
                         "EventKey": "6",
                         "SendPicsInfo": {"Count": "2", "PicList": {"item": [
                             {"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"},
                             {"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}]}}}},
            {"name": "WeCom bot message (JSON with nested objects)",
             "plaintext": "{\"msgid\":\"CAIQz7/MjQYY/NGagIOAgAMgl8jK/gI=\",\"aibotid\":\"AIBOTID\","
                          "\"chattype\":\"single\",\"from\":{\"userid\":\"USERID\"},\"msgtype\":\"text\","
                          "\"text\":{\"content\":\"@RobotA hello\"},\"quote\":{\"msgtype\":\"mixed\","
                          "\"mixed\":{\"msg_item\":[{\"msgtype\":\"text\",\"text\":{\"content\":\"q\"}}]}},"
                          "\"create_time\":1700000000}",
             "message": {"msgid": "CAIQz7/MjQYY/NGagIOAgAMgl8jK/gI=", "aibotid": "AIBOTID",
                         "chattype": "single", "from": {"userid": "USERID"}, "msgtype": "text",
                         "text": {"content": "@RobotA hello"},
                         "quote": {"msgtype": "mixed", "mixed": {"msg_item": [
                             {"msgtype": "text", "text": {"content": "q"}}]}},
                         "create_time": "1700000000"}},
        ],
        "not_utf8_body": base64.b64encode(b"<xml><Encrypt>\xff\xfe\xc3(</Encrypt></xml>").decode(),
    }
    out = os.path.join(os.path.dirname(HERE), "callback-edges.json")
    with open(out, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
