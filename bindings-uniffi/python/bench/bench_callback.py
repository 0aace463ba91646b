"""Callback verify + decrypt of a 1 KB message: wxcore against wechatpy, side by side.

    python bindings-uniffi/python/bench/bench_callback.py
"""

import os
import time

from wxcore import CallbackCrypto

N = int(os.environ.get("N", "5000"))
ROUNDS = 7
TOKEN, KEY, APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
TS, NONCE = "1409735669", "1320562132"
MSG = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
       + "x" * 900 + "]]></Content></xml>")


def measure(name, one):
    for _ in range(1000):
        one()
    per = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(N):
            one()
        per.append((time.perf_counter() - t0) / N * 1e6)
    per.sort()
    print(f"{name}: median {per[ROUNDS // 2]:.2f} µs (min {per[0]:.2f}, max {per[-1]:.2f}; {ROUNDS} x {N})")
    return per[ROUNDS // 2]


crypto = CallbackCrypto(TOKEN, KEY, APPID)
xml = crypto.encrypt(MSG, TS, NONCE)
sig = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
assert crypto.decrypt(sig, TS, NONCE, xml) == MSG
ours = measure("wxcore CallbackCrypto.decrypt (verify + decrypt, 1 KB)", lambda: crypto.decrypt(sig, TS, NONCE, xml))
try:
    from wechatpy.crypto import WeChatCrypto
except ImportError:
    print("wechatpy not installed: skipped (make bench-bindings installs it)")
else:
    peer = WeChatCrypto(TOKEN, KEY, APPID)
    assert peer.decrypt_message(xml, sig, TS, NONCE) == MSG
    theirs = measure("wechatpy WeChatCrypto.decrypt_message (1 KB)", lambda: peer.decrypt_message(xml, sig, TS, NONCE))
    print(f"ratio: wxcore throughput is {theirs / ours:.1f}x wechatpy's")
