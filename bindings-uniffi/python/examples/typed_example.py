"""wxcore under ``mypy --strict``: a typed config, a transport of your own, typed errors.

    python examples/typed_example.py

Runs without a network: the transport below answers like the platform
would, so the program shows what a type checker sees and what the engine
does with each answer (``make python-test`` type-checks this file).
"""

from __future__ import annotations

import json
from typing import Dict, List, Mapping, Optional, Tuple

from wxcore import Client, Config, ErrorKind, HttpTransport, WxError


class RecordingTransport:
    """A transport of one's own (a test double here; in production it could
    add tracing or a company proxy): it satisfies :class:`wxcore.HttpTransport`
    structurally, no subclassing needed."""

    def __init__(self) -> None:
        self.paths: List[str] = []

    def __call__(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes],
                 timeout_s: float, /) -> Tuple[int, Mapping[str, str], bytes]:
        path = url.split("?", 1)[0].split("/", 3)[-1]
        self.paths.append(path)
        if path == "cgi-bin/stable_token":
            answer: object = {"access_token": "ACCESS-TOKEN", "expires_in": 7200}
        elif path == "cgi-bin/user/info":
            answer = {"openid": "o1", "nickname": "Ada"}
        else:  # the OA platform's answer to an app calling faster than allowed
            answer = {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


CONFIG: Config = {
    "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxTYPED", "secret": "TYPED-SECRET",
              "hosts": ["https://api.weixin.qq.com"]}],
    "retry": {"max_attempts": 1, "max_rate_limit_retries": 0},
    "timeout_ms": 3000,
}


def backoff_ms(kind: ErrorKind, retry_after_ms: Optional[int]) -> Optional[int]:
    """When to try again: a ``Literal`` kind means a misspelled name here fails the type check."""
    if kind in ("rate_limited", "quota_exhausted", "ip_blocked"):
        return retry_after_ms or 1000
    return None


def main() -> None:
    transport = RecordingTransport()
    http: HttpTransport = transport  # checked: the class fits the protocol
    with Client(CONFIG, http=http) as client:
        user = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
        print("user:", user["nickname"])
        try:
            client.call("oa", "POST", "/cgi-bin/message/custom/send", json={"touser": "o1", "msgtype": "text"})
        except WxError as e:
            kind: ErrorKind = e.kind
            print("failed:", kind, e.code, "retry in", backoff_ms(kind, e.retry_after_ms), "ms")
    print("requests:", transport.paths)


if __name__ == "__main__":
    main()
