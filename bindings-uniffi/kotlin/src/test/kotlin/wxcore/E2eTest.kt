// End to end: the Kotlin driver over real HTTP (HttpURLConnection) against the
// local simulator. Each test uses its own app id, so the simulator's counters
// (platform-side facts) belong to that test alone.
package wxcore

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.util.Collections
import java.util.UUID
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import wxcore.WxException.Kind

/** One `wxsim` process; it also exits when our pipe to its stdin closes. */
class Simulator : AutoCloseable {
    private val proc: Process
    val primary: String
    val dr: String
    private val control: String
    private val http = HttpClient.newHttpClient()

    init {
        val exe = System.getenv("WXSIM") ?: File("../../target/release/wxsim").absolutePath
        proc = ProcessBuilder(exe, "--watch-stdin").redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = proc.inputStream.bufferedReader().readLine() ?: error("the simulator ($exe) printed no addresses")
        val addrs = Json.parseToJsonElement(line).jsonObject
        primary = addrs.getValue("primary").jsonPrimitive.content
        dr = addrs.getValue("dr").jsonPrimitive.content
        control = addrs.getValue("control").jsonPrimitive.content
    }

    fun ask(path: String, body: String? = null): JsonObject {
        val b = java.net.http.HttpRequest.newBuilder(URI(control + path)).header("content-type", "application/json")
        if (body != null) b.POST(java.net.http.HttpRequest.BodyPublishers.ofString(body))
        val r = http.send(b.build(), java.net.http.HttpResponse.BodyHandlers.ofString())
        check(r.statusCode() == 200) { "simulator control $path: HTTP ${r.statusCode()}" }
        return Json.parseToJsonElement(r.body()).jsonObject
    }

    fun counters() = ask("/counters")

    override fun close() {
        proc.destroy() // SIGTERM
        if (!proc.waitFor(5, TimeUnit.SECONDS)) proc.destroyForcibly().waitFor()
    }
}

/** A counter, 0 when absent. */
fun JsonObject.count(table: String, app: String, key: String? = null): Long {
    val row = (this[table] as? JsonObject)?.get(app) ?: return 0
    return if (key == null) row.jsonPrimitive.long else (row.jsonObject[key]?.jsonPrimitive?.long ?: 0)
}

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class E2eTest {
    private lateinit var sim: Simulator
    private val ui = "/cgi-bin/user/info"

    @BeforeAll
    fun start() {
        sim = Simulator()
    }

    @AfterAll
    fun stop() = sim.close()

    @BeforeEach
    fun reset() {
        sim.ask("/reset", "{}")
    }

    private fun newAppId() = "wxe2e" + UUID.randomUUID().toString().take(8)

    private fun oa(appId: String) = Client(
        WxConfig(
            listOf(AppConfig("oa", "wechat-oa", appId, "e2e-secret", hosts = listOf(sim.primary, sim.dr))),
            retry = RetryConfig(jitter = false, baseDelayMs = 10, maxDelayMs = 50),
            failover = FailoverConfig(threshold = 1, cooldownMs = 300),
            timeoutMs = 3000,
        ),
    )

    private fun openid(r: JsonElement) = r.jsonObject.getValue("openid").jsonPrimitive.content

    @Test
    fun `threads share one client, one token fetch, and overlap at the platform`() {
        val app = newAppId()
        sim.ask("/config", """{"latency_ms":50}""")
        val client = oa(app)
        val pool = Executors.newFixedThreadPool(8)
        val results = (0 until 16).map { i -> pool.submit<String> { openid(client.call("oa", "GET", ui, listOf("openid" to "o$i"))) } }
            .map { it.get(30, TimeUnit.SECONDS) }
        pool.shutdown()
        assertEquals((0 until 16).map { "o$it" }, results)
        val c = sim.counters()
        assertEquals(1, c.count("token_fetches", app))
        assertEquals(16, c.count("calls", app, ui))
        assertTrue(c.getValue("max_in_flight").jsonObject.getValue(app).jsonPrimitive.int > 1, "the calls did not overlap")
    }

    @Test
    fun `early invalidation costs one refresh and no error`() {
        val app = newAppId()
        val client = oa(app)
        val events = Collections.synchronizedList(mutableListOf<String>())
        client.on { events += it.getValue("type").jsonPrimitive.content }
        client.call("oa", "GET", ui, listOf("openid" to "o1"))
        sim.ask("/fault", """{"kind":"invalidate","app":"$app"}""")
        assertEquals("o2", openid(client.call("oa", "GET", ui, listOf("openid" to "o2"))))
        val c = sim.counters()
        assertEquals(2, c.count("token_fetches", app))
        assertEquals(1, c.count("rejected", app, "40001"))
        assertEquals(listOf("token_fetched", "token_invalidated", "token_fetched"), events.filter { it.startsWith("token_") })
    }

    @Test
    fun `primary down, api2 serves, primary again after the cool-down`() {
        val app = newAppId()
        val client = oa(app)
        val events = Collections.synchronizedList(mutableListOf<JsonObject>())
        client.on { events += it }
        client.call("oa", "GET", ui, listOf("openid" to "o1"))
        sim.ask("/fault", """{"kind":"host","host":"primary","mode":"down"}""")
        val before = sim.counters().getValue("requests").jsonObject
        assertEquals("o2", openid(client.call("oa", "GET", ui, listOf("openid" to "o2"))))
        val mid = sim.counters().getValue("requests").jsonObject
        assertEquals(before.getValue("dr").jsonPrimitive.long + 1, mid.getValue("dr").jsonPrimitive.long)
        assertEquals(before.getValue("primary"), mid.getValue("primary"))
        assertTrue(events.any { it["type"]?.jsonPrimitive?.content == "failover" && it["to"]?.jsonPrimitive?.content == sim.dr })

        sim.ask("/fault", """{"kind":"host","host":"primary","mode":"up"}""")
        Thread.sleep(400) // the configured 300 ms cool-down
        client.call("oa", "GET", ui, listOf("openid" to "o3"))
        val end = sim.counters().getValue("requests").jsonObject
        assertEquals(mid.getValue("primary").jsonPrimitive.long + 1, end.getValue("primary").jsonPrimitive.long)
        assertEquals(mid.getValue("dr"), end.getValue("dr"))
    }

    @Test
    fun `45009 ends in quota_exhausted with no further platform call`() {
        val app = newAppId()
        sim.ask("/config", """{"daily_limits":{"/cgi-bin/user/get":2}}""")
        val client = oa(app)
        repeat(2) { client.call("oa", "GET", "/cgi-bin/user/get") }
        repeat(2) {
            val e = assertThrows<WxException> { client.call("oa", "GET", "/cgi-bin/user/get") }
            assertEquals(Kind.QUOTA_EXHAUSTED, e.kind)
            assertTrue((e.retryAfterMs ?: 0) > 0)
        }
        val c = sim.counters()
        assertEquals(3, c.count("calls", app, "/cgi-bin/user/get"))
        assertEquals(1, c.count("rejected", app, "45009"))
    }

    @Test
    fun `a -1 burst is retried for GET and not for a non-idempotent POST`() {
        val app = newAppId()
        val client = oa(app)
        sim.ask("/fault", """{"kind":"errcode","code":-1,"count":2,"path":"$ui"}""")
        assertEquals("o1", openid(client.call("oa", "GET", ui, listOf("openid" to "o1"))))
        sim.ask("/fault", """{"kind":"errcode","code":-1,"count":1,"path":"/cgi-bin/message/custom/send"}""")
        val e = assertThrows<WxException> {
            client.call("oa", "POST", "/cgi-bin/message/custom/send", json = """{"touser":"o1","msgtype":"text"}""")
        }
        assertEquals(Kind.BUSY, e.kind)
        assertEquals("-1", e.code.toString())
        val c = sim.counters()
        assertEquals(3, c.count("calls", app, ui))
        assertEquals(1, c.count("calls", app, "/cgi-bin/message/custom/send"))
    }

    @Test
    fun `89503 is admin_confirmation_required after exactly one attempt`() {
        val app = newAppId()
        val client = oa(app)
        sim.ask("/fault", """{"kind":"errcode","code":89503,"count":5,"path":"/cgi-bin/tags/get"}""")
        val e = assertThrows<WxException> { client.call("oa", "GET", "/cgi-bin/tags/get") }
        assertEquals(Kind.ADMIN_CONFIRMATION_REQUIRED, e.kind)
        assertEquals("89503", e.code.toString())
        assertEquals(1, sim.counters().count("calls", app, "/cgi-bin/tags/get"))
    }

    @Test
    fun `media upload then binary download byte for byte`() {
        val client = oa(newAppId())
        val image = ByteArray(10240) { it.toByte() }
        val boundary = "wxcore" + UUID.randomUUID().toString().replace("-", "")
        val body = ("--$boundary\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n" +
            "Content-Type: image/jpeg\r\n\r\n").toByteArray() + image + "\r\n--$boundary--\r\n".toByteArray()
        val up = client.call("oa", "POST", "/cgi-bin/media/upload", listOf("type" to "image"), body = body,
            contentType = "multipart/form-data; boundary=$boundary")
        val mediaId = up.jsonObject.getValue("media_id").jsonPrimitive.content
        val got = client.callFull("oa", "GET", "/cgi-bin/media/get", listOf("media_id" to mediaId))
        assertArrayEquals(image, got.bytes)
        assertEquals("image/jpeg", got.headers.first { it.first.lowercase() == "content-type" }.second)
    }

    @Test
    fun `WeCom, Jing, CJ-style and result-style over HTTP`() {
        val (corp, jing, cj, acct) = List(4) { newAppId() }
        val p = sim.primary
        val client = Client(
            """{"apps":[
            {"id":"wecom","platform":"wecom","corp_id":"$corp","agent_id":"1000002","secret":"cs","hosts":["$p"]},
            {"id":"jing","platform":"jing","app_id":"$jing","secret":"js","base_url":"$p","token_path":"/jing/token","refresh_path":"/jing/refresh"},
            {"id":"cj","platform":"cj","app_id":"$cj","secret":"cjs","base_url":"$p","token_path":"/cj/token"},
            {"id":"result","platform":"result","app_id":"$acct","secret":"tid","base_url":"$p",
             "token_placement":{"in":"query","name":"token_id","extra":[["account_key","{app_id}"]]}}]}""",
        )
        fun field(r: JsonElement, vararg path: String): String =
            path.fold(r) { e, k -> e.jsonObject.getValue(k) }.jsonPrimitive.content
        assertEquals("zhangsan", field(client.call("wecom", "GET", "/cgi-bin/user/get", listOf("userid" to "zhangsan")), "userid"))
        val e = assertThrows<WxException> { client.call("wecom", "GET", "/cgi-bin/user/get", listOf("userid" to "nobody")) }
        assertEquals(Kind.UNKNOWN, e.kind) // not in the profile's table: kept, typed unknown
        assertEquals("60111", e.code.toString())
        assertEquals(jing, field(client.call("jing", "GET", "/jing/api/shop/info"), "data", "app_id"))
        assertEquals(cj, field(client.call("cj", "GET", "/cj/api/orders"), "data", "appid"))
        assertEquals(acct, field(client.call("result", "GET", "/result/events"), "data", "account_key"))
        sim.ask("/fault", """{"kind":"invalidate","app":"$jing"}""")
        assertEquals("0", field(client.call("jing", "POST", "/jing/api/shop/update", json = """{"name":"x"}"""), "code"))
        val c = sim.counters()
        assertEquals(1, c.count("token_fetches", corp))
        assertEquals(2, c.count("token_fetches", jing))
    }

    @Test
    fun `JS-SDK tickets, one fetch for many threads`() {
        val app = newAppId()
        sim.ask("/config", """{"latency_ms":30}""")
        val client = oa(app)
        val pool = Executors.newFixedThreadPool(6)
        val tickets = (0 until 6).map { pool.submit<String> { client.ticket("oa") } }.map { it.get(30, TimeUnit.SECONDS) }
        pool.shutdown()
        assertEquals(1, tickets.toSet().size)
        val page = client.jssdkConfig("oa", "https://shop.example/p?x=1#top")
        fun s(k: String) = page.getValue(k).jsonPrimitive.content
        assertEquals(app, s("appId"))
        assertEquals(jssdkSignature(tickets[0], s("nonceStr"), s("timestamp"), "https://shop.example/p?x=1"), s("signature"))
        assertEquals(1, sim.counters().count("ticket_fetches", app))
    }

    @Serializable
    data class SimUser(val openid: String, val nickname: String)

    @Test
    fun `suspend calls succeed and share one token fetch`(): Unit = runBlocking {
        val app = newAppId()
        val client = oa(app)
        val users = (0 until 8).map { i -> async { client.callAsAsync<SimUser>("oa", "GET", ui, listOf("openid" to "o$i")) } }.awaitAll()
        assertEquals((0 until 8).map { "o$it" }, users.map { it.openid })
        assertEquals("o9", openid(client.callAsync("oa", "GET", ui, listOf("openid" to "o9"))))
        val c = sim.counters()
        assertEquals(1, c.count("token_fetches", app))
        assertEquals(9, c.count("calls", app, ui))
    }

    @Test
    fun `cancelling a coroutine withdraws its call, which is never sent`(): Unit = runBlocking {
        val app = newAppId()
        sim.ask("/config", """{"token_latency_ms":1000}""")
        val client = oa(app)
        val pending = async { client.callAsync("oa", "GET", ui, listOf("openid" to "o1")) }
        delay(200) // the call now waits for its token
        val start = System.nanoTime()
        pending.cancelAndJoin()
        val ms = (System.nanoTime() - start) / 1_000_000
        assertTrue(pending.isCancelled)
        assertTrue(ms < 500, "cancellation took $ms ms: it waited for the token fetch")
        assertThrows<CancellationException> { runBlocking { pending.await() } }
        delay(1300) // the token fetch lands: the withdrawn call must not follow it
        val c = sim.counters()
        assertEquals(1, c.count("token_fetches", app))
        assertEquals(0, c.count("calls", app, ui))
        // The fetch went on for the cache: the next call uses its token.
        assertEquals("o2", openid(client.callAsync("oa", "GET", ui, listOf("openid" to "o2"))))
        assertEquals(1, sim.counters().count("token_fetches", app))
        assertEquals(1, sim.counters().count("calls", app, ui))
    }

    @Test
    fun `a timeout around a suspend call cancels it and the client goes on`(): Unit = runBlocking {
        val app = newAppId()
        sim.ask("/config", """{"latency_ms":800}""")
        val client = oa(app)
        client.call("oa", "GET", ui, listOf("openid" to "o0"))
        val late = withTimeoutOrNull(200) { client.callAsync("oa", "GET", ui, listOf("openid" to "o1")) }
        assertEquals(null, late)
        sim.ask("/config", """{"latency_ms":0}""")
        assertEquals("o2", openid(client.callAsync("oa", "GET", ui, listOf("openid" to "o2"))))
    }
}
