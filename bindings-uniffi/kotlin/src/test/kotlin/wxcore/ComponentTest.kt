// Third-party platform (open-platform component), end to end: the simulator
// pushes encrypted component_verify_tickets over real HTTP to a callback URL
// this test serves (the JDK's HttpServer) with Client.handlePush; calls fetch
// the component token with the pushed ticket, pushes never fetch one, and a
// forged push is refused by name.
package wxcore

import com.sun.net.httpserver.HttpServer
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.net.InetSocketAddress
import java.net.URLDecoder
import java.util.Collections
import java.util.UUID

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ComponentTest {
    private lateinit var sim: Simulator
    private val cbToken = "cb-token-e2e"
    private val aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    private val secret = "component-secret-e2e"
    private val pre = "/cgi-bin/component/api_create_preauthcode"

    @BeforeAll
    fun start() {
        sim = Simulator()
    }

    @AfterAll
    fun stop() = sim.close()

    private fun client(appid: String) = Client(
        WxConfig(
            apps = listOf(
                AppConfig(
                    id = "cp", platform = "wechat-component", appId = appid, secret = secret,
                    callback = CallbackKeys(cbToken, aesKey), hosts = listOf(sim.primary),
                ),
            ),
            timeoutMs = 3000,
        ),
    )

    /** The authorization event URL: each request goes to handlePush, answered with its reply (400 when refused). */
    private class Endpoint(client: Client) : AutoCloseable {
        val pushes: MutableList<Push> = Collections.synchronizedList(mutableListOf())
        val refused: MutableList<WxException> = Collections.synchronizedList(mutableListOf())
        private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        val url = "http://127.0.0.1:${server.address.port}/wechat/component"

        init {
            server.createContext("/") { ex ->
                val query = (ex.requestURI.rawQuery ?: "").split('&').filter { it.isNotEmpty() }.associate {
                    val (k, v) = it.split('=', limit = 2) + ""
                    URLDecoder.decode(k, Charsets.UTF_8) to URLDecoder.decode(v, Charsets.UTF_8)
                }
                val body = ex.requestBody.readBytes()
                val reply = try {
                    val p = client.handlePush("cp", ex.requestMethod, query, body)
                    pushes += p
                    p.reply.toByteArray()
                } catch (e: WxException) {
                    refused += e
                    null
                }
                if (reply == null) {
                    ex.sendResponseHeaders(400, -1)
                } else {
                    ex.sendResponseHeaders(200, reply.size.toLong())
                    ex.responseBody.use { it.write(reply) }
                }
                ex.close()
            }
            server.start()
        }

        override fun close() = server.stop(0)
    }

    private fun waitFor(cond: () -> Boolean) {
        val end = System.currentTimeMillis() + 10_000
        while (System.currentTimeMillis() < end) {
            if (cond()) return
            Thread.sleep(20)
        }
        error("timed out")
    }

    @Test
    fun pushedTicketsFeedTheComponentTokenAndNeverFetchOne() {
        val appid = "wxcp" + UUID.randomUUID().toString().take(8)
        client(appid).use { c ->
            Endpoint(c).use { ep ->
                sim.ask("/apps", """{"app_id": "$appid", "secret": "$secret"}""")
                sim.ask("/component", """{"component_appid": "$appid", "token": "$cbToken", "encoding_aes_key": "$aesKey", "url": "${ep.url}", "period_ms": 100}""")
                waitFor { ep.pushes.isNotEmpty() }
                assertEquals("component_verify_ticket", ep.pushes[0].infoType)
                assertEquals(true, ep.pushes[0].ticketKept)
                val first = c.call("cp", "POST", pre, json = """{"component_appid": "$appid"}""").jsonObject
                assertEquals(600, first.getValue("expires_in").jsonPrimitive.int)
                val seen = ep.pushes.size
                waitFor { ep.pushes.size >= seen + 5 }
                repeat(3) { c.call("cp", "POST", pre, json = """{"component_appid": "$appid"}""") }
                val counters = sim.counters()
                assertEquals(1, counters.count("token_fetches", appid))
                assertEquals(4, counters.count("calls", appid, pre))
                assertTrue(ep.refused.isEmpty())
                val status = c.status().getValue("apps").let { (it as kotlinx.serialization.json.JsonArray)[0].jsonObject }
                assertTrue(status.getValue("pushed_ticket").jsonObject.getValue("age_ms").jsonPrimitive.long < 5_000)
                val text = c.status().toString() + c.metrics() + ep.pushes.toString()
                for (s in listOf(secret, cbToken, aesKey, "ticket@@@", "ct_")) assertFalse(text.contains(s), s)
            }
        }
    }

    @Test
    fun withoutATicketCallsFailAtOnceAndAForgedPushChangesNothing() {
        val appid = "wxcp" + UUID.randomUUID().toString().take(8)
        client(appid).use { c ->
            val e = assertThrows<WxException> { c.call("cp", "POST", pre, json = """{"component_appid": "$appid"}""") }
            assertEquals(WxException.Kind.TICKET_UNAVAILABLE, e.kind)
            Endpoint(c).use { ep ->
                sim.ask("/component", """{"component_appid": "$appid", "token": "not-our-token", "encoding_aes_key": "$aesKey", "url": "${ep.url}", "period_ms": 100}""")
                waitFor { ep.refused.size >= 2 }
                assertEquals(setOf("bad_signature"), ep.refused.map { it.reason }.toSet())
                assertTrue(ep.pushes.isEmpty())
                assertThrows<WxException> { c.call("cp", "POST", pre, json = """{"component_appid": "$appid"}""") }
                assertEquals(0, sim.counters().count("token_fetches", appid))
            }
        }
    }

    @Test
    fun authorizersAuthorizedByPushAreCalledForWithTheirOwnTokenAndARevokedOneFailsFast() {
        val appid = "wxcp" + UUID.randomUUID().toString().take(8)
        val a1 = "wxau" + UUID.randomUUID().toString().take(8)
        val a2 = "wxau" + UUID.randomUUID().toString().take(8)
        val ui = "/cgi-bin/user/info"
        client(appid).use { c ->
            Endpoint(c).use { ep ->
                sim.ask("/apps", """{"app_id": "$appid", "secret": "$secret"}""")
                sim.ask("/component", """{"component_appid": "$appid", "token": "$cbToken", "encoding_aes_key": "$aesKey", "url": "${ep.url}", "period_ms": 500}""")
                waitFor { ep.pushes.isNotEmpty() }
                for (a in listOf(a1, a2)) sim.ask("/component/authorize", """{"component_appid": "$appid", "authorizer_appid": "$a"}""")
                assertEquals(listOf("cp/$a1", "cp/$a2"), ep.pushes.filter { it.infoType == "authorized" }.map { it.authorizer })
                for (a in listOf(a1, a2)) c.call("cp/$a", "GET", ui, query = listOf("openid" to "o1"))
                sim.ask("/component/unauthorize", """{"component_appid": "$appid", "authorizer_appid": "$a2"}""")
                val e = assertThrows<WxException> { c.call("cp/$a2", "GET", ui, query = listOf("openid" to "o1")) }
                assertEquals(WxException.Kind.NOT_AUTHORIZED, e.kind)
                assertEquals("revoked", e.code)
                c.call("cp/$a1", "GET", ui, query = listOf("openid" to "o1"))
                val counters = sim.counters()
                assertEquals(1, counters.count("calls", a2, ui), "nothing sent for the revoked one")
                assertEquals(2, counters.count("calls", a1, ui))
                assertEquals(1, counters.count("token_fetches", appid))
                val text = c.status().toString() + c.metrics() + ep.pushes.toString()
                for (s in listOf(secret, aesKey, "authorizer_at_", "refreshtoken@@@", "queryauthcode@@@")) assertFalse(text.contains(s), s)
            }
        }
    }
}
