// A mobile app's side of the token server (`make demo`, and the relay test in
// tests/server): its config holds the relay's URL and the app's caller key,
// never an AppSecret or an access_token. Every call goes through the relay,
// which injects the token; envelopes, typed errors, busy retries and rate
// limits still run here, on the platform's verbatim answer.
//
// Run with WXCORE_RELAY_URL (the token server's base URL) and
// WXCORE_MOBILE_KEY (a caller key with the `relay` action).
package wxcore.examples

import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import wxcore.AppConfig
import wxcore.Client
import wxcore.CredentialConfig
import wxcore.CredentialSource
import wxcore.WxConfig
import wxcore.WxException

private val t0 = System.nanoTime()

private fun say(text: String) {
    println("  [app  +%5d ms] %s".format((System.nanoTime() - t0) / 1_000_000, text))
    System.out.flush()
}

fun main() {
    val relay = System.getenv("WXCORE_RELAY_URL") ?: error("WXCORE_RELAY_URL is not set")
    val key = System.getenv("WXCORE_MOBILE_KEY") ?: error("WXCORE_MOBILE_KEY is not set")
    val app = AppConfig(
        "oa", "wechat-oa", System.getenv("WXCORE_APP_ID") ?: "wx-mobile",
        credential = CredentialConfig(CredentialSource.RELAY, listOf(relay), key),
    )
    val config = WxConfig(listOf(app))
    Client(config).use { client ->
        client.on { e -> say("event: ${e["type"]?.jsonPrimitive?.content}") }
        say("config holds a relay URL and a caller key: no AppSecret, no access_token")
        var ok = 0
        for (openid in listOf("o-erin", "o-frank", "o-grace")) {
            val user = client.call("oa", "GET", "/cgi-bin/user/info", query = listOf("openid" to openid)).jsonObject
            say("user/info $openid through the relay: ${user.getValue("nickname").jsonPrimitive.content}")
            ok++
        }
        // Outside the caller's allowlist: the server refuses, the engine types it.
        val refused = try {
            client.call("oa", "GET", "/cgi-bin/menu/get")
            null
        } catch (e: WxException) {
            e
        }
        say("menu/get (not in the allowlist): ${refused?.kindName ?: "answered"}")
        println("""{"ok":$ok,"refused":${refused?.kindName?.let { "\"$it\"" } ?: "null"}}""")
    }
}
