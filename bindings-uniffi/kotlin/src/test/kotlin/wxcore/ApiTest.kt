// The Kotlin API around the engine: typed kinds and config, typed replies,
// the default transport over loopback HTTP, and what the shared driver may
// reference so that it runs on Android.
package wxcore

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerialName
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import wxcore.WxException.Kind
import java.io.File
import java.net.InetSocketAddress
import java.net.SocketTimeoutException
import java.net.http.HttpTimeoutException

class ApiTest {
    // ---- kinds ----

    @Test
    fun everyCoreKindHasAnEntry() {
        val core = wxcore.ffi.errorKinds()
        for (k in core) {
            val kind = Kind.from(k)
            assertEquals(k, kind.wire, "the core's kind $k has no Kind entry")
        }
        assertEquals(core.toSet(), Kind.entries.map { it.wire }.toSet(), "Kind has entries the core does not know")
        assertEquals("token_invalid", Kind.TOKEN_INVALID.wire)
        assertEquals(Kind.UNKNOWN, Kind.from("a_kind_from_a_newer_core"))
    }

    @Test
    fun aKindNewerThanTheBindingKeepsItsName() {
        val e = WxException.fromOutput(Json.parseToJsonElement("""{"kind":"brand_new","message":"m","code":7}""").jsonObject)
        assertEquals(Kind.UNKNOWN, e.kind)
        assertEquals("brand_new", e.kindName)
        assertEquals("brand_new: m", e.message)
        assertEquals(7L, e.code)
    }

    // ---- typed config ----

    private val secret = "APP-SECRET-0123456789"
    private val key = "ck_CALLER-KEY-abcdef"

    @Test
    fun wxConfigWritesTheEnginesJson() {
        val config = WxConfig(
            apps = listOf(
                AppConfig("oa", "wechat-oa", "wxA", secret, hosts = listOf("https://a", "https://b")),
                AppConfig("m", "wechat-oa", "wxM", credential = CredentialConfig(CredentialSource.RELAY, listOf("https://relay"), key)),
            ),
            refreshMarginMs = 600_000,
            timeoutMs = 3000,
            callTimeoutMs = 10_000,
            retry = RetryConfig(maxAttempts = 2, jitter = false),
            failover = FailoverConfig(threshold = 1, cooldownMs = 300),
            quota = QuotaConfig(mode = QuotaMode.WARN, limits = mapOf("/cgi-bin/tags/get" to 5)),
            rateLimit = RateLimitConfig(perMinute = 600),
            store = StoreMode.MEMORY,
        )
        val expected = Json.parseToJsonElement(
            """{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wxA","secret":"$secret","hosts":["https://a","https://b"]},
            {"id":"m","platform":"wechat-oa","app_id":"wxM","credential":{"source":"relay","url":["https://relay"],"key":"$key"}}],
            "refresh_margin_ms":600000,"timeout_ms":3000,"call_timeout_ms":10000,"retry":{"max_attempts":2,"jitter":false},
            "failover":{"threshold":1,"cooldown_ms":300},"rate_limit":{"per_minute":600},
            "quota":{"mode":"warn","limits":{"/cgi-bin/tags/get":5}},"store":"memory"}""",
        )
        assertEquals(expected, Json.parseToJsonElement(config.toJson()))
        assertEquals(config, WxConfig.fromJson(config.toJson()))
        Client(config).close() // the engine takes it
    }

    @Test
    fun configsNeverPrintSecrets() {
        val sym = "SYM-KEY-base64-zzzz"
        val pem = "-----BEGIN PRIVATE KEY-----PEM-BODY"
        val config = WxConfig(
            listOf(
                AppConfig(
                    "oa", "wechat-oa", "wxA", secret,
                    apiSecurity = ApiSecurityConfig(sym, "SN1", pem, mapOf("CERT1" to "-----BEGIN CERTIFICATE-----"), listOf("/wxa/x")),
                ),
                AppConfig("m", "wechat-oa", "wxM", credential = CredentialConfig(CredentialSource.SERVER, listOf("https://tokens"), key)),
            ),
        )
        val text = config.toString()
        for (s in listOf(secret, key, sym, pem)) assertFalse(s in text, "$s in $text")
        assertTrue("wxA" in text && "https://tokens" in text && "SN1" in text, text)
        // The engine's refusal names the field, not the value.
        val bad = assertThrows<WxException> { Client(config.copy(apps = config.apps.map { it.copy(platform = "nope") })) }
        assertEquals(Kind.CONFIG, bad.kind)
        for (s in listOf(secret, key, sym, pem)) assertFalse(s in bad.toString(), bad.toString())
    }

    // ---- typed replies ----

    @Serializable
    data class UserInfo(val openid: String, val nickname: String, @SerialName("subscribe") val subscribed: Int = 0)

    private val oa = WxConfig(listOf(AppConfig("oa", "wechat-oa", "wxA", secret)), retry = RetryConfig(jitter = false, baseDelayMs = 1, maxDelayMs = 2))

    private fun platform(): Http = Http { req ->
        fun json(s: String) = HttpResponse(200, mapOf("content-type" to "application/json"), s.toByteArray())
        when {
            "/cgi-bin/stable_token" in req.url -> json("""{"access_token":"T1","expires_in":7200}""")
            "/cgi-bin/ticket/getticket" in req.url -> json("""{"errcode":0,"errmsg":"ok","ticket":"TICKET-1","expires_in":7200}""")
            "/cgi-bin/media/get" in req.url -> HttpResponse(200, mapOf("content-type" to "image/jpeg"), byteArrayOf(1, 2, 3))
            else -> json("""{"openid":"o1","nickname":"N","subscribe":1,"added_later":{"x":1}}""")
        }
    }

    @Test
    fun callAsDecodesAndIgnoresUnknownFields() {
        val c = Client(oa, http = platform())
        assertEquals(UserInfo("o1", "N", 1), c.callAs<UserInfo>("oa", "GET", "/cgi-bin/user/info", listOf("openid" to "o1")))
        val e = assertThrows<WxException> { c.call("oa", "GET", "/cgi-bin/media/get") }
        assertEquals(Kind.MALFORMED_RESPONSE, e.kind)
        assertArrayEquals(byteArrayOf(1, 2, 3), c.callBytes("oa", "GET", "/cgi-bin/media/get"))
    }

    @Test
    fun jssdkConfigSignsWithTheCachedTicket() {
        val c = Client(oa, http = platform())
        val page = c.jssdkConfig("oa", "https://shop.example/p?x=1#frag")
        val s = { k: String -> page.getValue(k).jsonPrimitive.content }
        assertEquals("wxA", s("appId"))
        assertEquals(jssdkSignature("TICKET-1", s("nonceStr"), s("timestamp"), "https://shop.example/p?x=1"), s("signature"))
        assertEquals("TICKET-1", c.ticket("oa"))
    }

    // ---- the default transport over loopback ----

    private fun server(handle: (HttpExchange) -> Unit): HttpServer =
        HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { ex -> try { handle(ex) } catch (_: java.io.IOException) { } finally { ex.close() } }
            executor = java.util.concurrent.Executors.newCachedThreadPool()
            start()
        }

    private fun HttpServer.url(path: String) = "http://127.0.0.1:${address.port}$path"

    @Test
    fun urlConnectionHttpKeepsRedirectsErrorBodiesAndHeaders() {
        val seen = mutableListOf<String>()
        val s = server { ex ->
            seen += "${ex.requestMethod} ${ex.requestURI.path} ${String(ex.requestBody.readBytes())}"
            when (ex.requestURI.path) {
                "/moved" -> {
                    ex.responseHeaders.add("Location", "/elsewhere")
                    ex.sendResponseHeaders(302, -1)
                }
                "/fail" -> {
                    val b = """{"errcode":-1}""".toByteArray()
                    ex.responseHeaders.add("X-Two", "a")
                    ex.responseHeaders.add("X-Two", "b")
                    ex.sendResponseHeaders(503, b.size.toLong())
                    ex.responseBody.write(b)
                }
                else -> {
                    ex.sendResponseHeaders(200, 2)
                    ex.responseBody.write("ok".toByteArray())
                }
            }
        }
        try {
            val http = UrlConnectionHttp()
            val moved = http.send(HttpRequest("GET", s.url("/moved"), emptyMap(), null, 2000))
            assertEquals(302, moved.status)
            assertEquals("/elsewhere", moved.headers["location"])
            val fail = http.send(HttpRequest("POST", s.url("/fail"), mapOf("Content-Type" to "application/json"), "{}".toByteArray(), 2000))
            assertEquals(503, fail.status)
            assertEquals("""{"errcode":-1}""", String(fail.body))
            assertEquals("a, b", fail.headers["x-two"])
            assertTrue(fail.headers.keys.all { it == it.lowercase() }, fail.headers.keys.toString())
            assertEquals(listOf("GET /moved ", "POST /fail {}"), seen)
        } finally {
            s.stop(0)
        }
    }

    @Test
    fun bothTransportsEndAStalledAnswerAtTheDeadline() {
        val s = server { Thread.sleep(3000) }
        try {
            for (http in listOf(UrlConnectionHttp(), JdkHttp())) {
                val start = System.nanoTime()
                val e = assertThrows<SocketTimeoutException> { http.send(HttpRequest("GET", s.url("/stall"), emptyMap(), null, 300)) }
                val ms = (System.nanoTime() - start) / 1_000_000
                assertTrue(ms in 250..1500, "${http.javaClass.simpleName}: $ms ms")
                assertEquals("timeout", transportKind(e))
            }
        } finally {
            s.stop(0)
        }
    }

    @Test
    fun transportKindsWithoutJavaNetHttp() {
        assertEquals("timeout", transportKind(HttpTimeoutException("t")))
        assertEquals("connect_timeout", transportKind(java.net.http.HttpConnectTimeoutException("t")))
        assertEquals("timeout", transportKind(SocketTimeoutException()))
        assertEquals("timeout", transportKind(SocketTimeoutException("Read timed out")))
        // The JDK's own HttpURLConnection and Socket message, from a transport someone plugs in.
        assertEquals("connect_timeout", transportKind(SocketTimeoutException("Connect timed out")))
        assertEquals("connect_timeout", transportKind(ConnectTimeoutException("failed to connect to /10.0.0.1 (port 443) after 5000ms")))
        assertEquals("connect_timeout", transportKind(java.io.IOException("wrapped", ConnectTimeoutException("c"))))
        assertEquals("connect", transportKind(java.net.ConnectException()))
        assertEquals("dns", transportKind(java.net.UnknownHostException()))
        assertEquals("reset", transportKind(java.io.IOException()))
    }

    @Test
    fun bothTransportsTellAConnectTimeoutFromARequestTimeout() {
        FullBacklog().use { host ->
            val jdk = JdkHttp(java.net.http.HttpClient.newBuilder().connectTimeout(java.time.Duration.ofMillis(300)).build())
            for (http in listOf(UrlConnectionHttp(connectTimeoutMs = 300), jdk)) {
                val start = System.nanoTime()
                val e = assertThrows<java.io.IOException> { http.send(HttpRequest("GET", host.url + "/x", emptyMap(), null, 5000)) }
                val ms = (System.nanoTime() - start) / 1_000_000
                assertTrue(e is ConnectTimeoutException, "${http.javaClass.simpleName}: $e")
                assertEquals("connect_timeout", transportKind(e), "${http.javaClass.simpleName}: $e")
                // The connect timeout ended it, not the request's 5 s deadline.
                assertTrue(ms in 250..2500, "${http.javaClass.simpleName}: $ms ms")
            }
        }
    }

    @Test
    fun eventsAreLoggedAsTheCoresLineAtTheCoresLevel() {
        // The line is the core's (`text`); the driver adds nothing to it.
        val e = Json.parseToJsonElement(
            """{"type":"store_unavailable","app":"oa","op":"get","message":"read timed out","level":"warn","code":null,
               "text":"store_unavailable app=oa code=null message=\"read timed out\" op=get"}""",
        ).jsonObject
        assertEquals("""store_unavailable app=oa code=null message="read timed out" op=get""", describe(e))
        assertEquals("store_unavailable", describe(JsonObject(e - "text")))
        CapturedLog().use { log ->
            val logger = org.slf4j.LoggerFactory.getLogger("wxcore")
            logEvent(logger, e)
            // An event from a core that gives no level is still logged, at info.
            logEvent(logger, JsonObject(e - "level"))
            assertEquals(
                listOf("WARN", "INFO"),
                log.lines.filter { it.formattedMessage == describe(e) }.map { it.level.toString() },
            )
        }
    }

    /**
     * Android has neither java.net.http nor System.Logger: only JdkHttp (a
     * JVM option) and RedisStore (Jedis) may name JVM-only APIs.
     */
    @Test
    fun theSharedDriverNamesNoJvmOnlyClass() {
        val dir = File(File(Client::class.java.protectionDomain.codeSource.location.toURI()), "wxcore")
        val classes = dir.listFiles { f -> f.name.endsWith(".class") }!!.filter { !it.name.startsWith("JdkHttp") && !it.name.startsWith("RedisStore") }
        assertTrue(classes.any { it.name == "Client.class" } && classes.any { it.name == "UrlConnectionHttp.class" }, classes.toString())
        for (f in classes) {
            val text = String(f.readBytes(), Charsets.ISO_8859_1)
            // ByteBuffer's covariant flip() and friends are Java 9+ (Android 34+).
            for (banned in listOf("java/net/http/", "java/lang/System\$Logger", "()Ljava/nio/ByteBuffer;")) {
                assertFalse(banned in text, "${f.name} references $banned")
            }
        }
    }

    @Test
    fun theDefaultTransportIsUrlConnection() {
        val c = Client(oa)
        val http = Client::class.java.getDeclaredField("http").apply { isAccessible = true }.get(c)
        assertTrue(http is UrlConnectionHttp, http.javaClass.name)
    }
}

/**
 * A loopback listener that never accepts, its accept queue filled: Linux
 * drops the SYNs of any further connect, which then times out, as against a
 * host that is unreachable or overloaded.
 */
class FullBacklog : AutoCloseable {
    private val server = java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())
    private val held = mutableListOf<java.net.Socket>()
    val url = "http://127.0.0.1:${server.localPort}"

    init {
        var full = false
        while (!full && held.size < 32) {
            val s = java.net.Socket()
            try {
                s.connect(server.localSocketAddress, 200)
                held += s
            } catch (e: SocketTimeoutException) {
                s.close()
                full = true
            }
        }
        check(full) { "the listener accepted ${held.size} connects: its queue never filled" }
    }

    override fun close() {
        held.forEach { it.close() }
        server.close()
    }
}
