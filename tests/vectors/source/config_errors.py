"""Configurations the engine refuses, each naming the offending field."""
from common import *

FILE = "config-errors"
SCENARIOS = [
    config_scenario("jing without token_path", cfg(jing(token_path=None)), "apps[0].token_path",
                    about="Jing's token path is not public: the config must give it"),
    config_scenario("jing without base_url", cfg({k: v for k, v in jing().items() if k != "base_url"}), "apps[0].base_url"),
    config_scenario("cj without base_url", cfg({k: v for k, v in cj().items() if k != "base_url"}), "apps[0].base_url"),
    config_scenario("result-style without token_placement",
                    cfg({k: v for k, v in result_app().items() if k != "token_placement"}), "apps[0].token_placement"),
    config_scenario("an unknown field is an error, never ignored", cfg(oa(scret="x")), "apps[0].scret"),
    config_scenario("an unknown top-level field", dict(cfg(oa()), refresh_margin=5), "refresh_margin"),
    config_scenario("duplicate app ids", cfg(oa(), oa(app_id="wxB")), "apps[1].id"),
    config_scenario("an unknown platform", cfg(oa(platform="wechat-mp")), "apps[0].platform"),
    config_scenario("wecom without agent_id", cfg({k: v for k, v in wecom().items() if k != "agent_id"}), "apps[0].agent_id"),
    config_scenario("wechat-oa without secret", cfg({k: v for k, v in oa().items() if k != "secret"}), "apps[0].secret"),
    config_scenario("an unknown token endpoint name", cfg(oa(token_endpoint="fast")), "apps[0].token_endpoint"),
    config_scenario("base_url and hosts together", cfg(oa(base_url="http://127.0.0.1:1", hosts=["http://127.0.0.1:2"])), "apps[0].base_url"),
    config_scenario("a base_url that is not http(s)", cfg(oa(base_url="ftp://x")), "apps[0].base_url"),
    config_scenario("an unknown region", cfg(oa(regions=["bj"])), "apps[0].regions"),
    config_scenario("an unknown quota mode", cfg(oa(), quota={"mode": "strict"}), "quota.mode"),
    config_scenario("a custom profile extending an unknown one", cfg(oa(platform="mine"), profiles={"mine": {"extends": "nope"}}), "profiles.mine.extends"),
]
