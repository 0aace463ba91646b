// Monitoring through the real client: the status snapshot, the Prometheus
// text and the log lines, against the local simulator over HTTP. What the
// core computes is the Rust tests' and the vectors'; these check that the
// Kotlin driver hands it over intact and logs every event at its level with
// no secret in any line.
package wxcore

import ch.qos.logback.classic.Level
import ch.qos.logback.classic.spi.ILoggingEvent
import ch.qos.logback.core.read.ListAppender
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.boolean
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.slf4j.LoggerFactory
import java.util.Collections
import java.util.UUID

/** One Prometheus sample: `name{labels} value`. */
data class Sample(val name: String, val labels: Map<String, String>, val value: String)

private val LABEL = Regex("""(\w+)="((?:[^"\\]|\\.)*)"""")

fun samples(text: String): List<Sample> = text.lines().filter { it.isNotEmpty() && !it.startsWith("#") }.map { line ->
    val at = line.lastIndexOf(' ')
    val series = line.substring(0, at)
    val brace = series.indexOf('{')
    val name = if (brace < 0) series else series.substring(0, brace)
    val labels = if (brace < 0) emptyMap() else LABEL.findAll(series.substring(brace)).associate { it.groupValues[1] to it.groupValues[2] }
    Sample(name, labels, line.substring(at + 1))
}

/** The value of the one sample named [name] with (at least) these labels; null when there is none. */
fun List<Sample>.value(name: String, vararg labels: Pair<String, String>): Double? {
    val found = filter { s -> s.name == name && labels.all { (k, v) -> s.labels[k] == v } }
    assertTrue(found.size <= 1, "more than one $name${labels.toList()}: $found")
    return found.firstOrNull()?.value?.toDouble()
}

/** The "wxcore" logger's lines at every level while open. */
class CapturedLog : AutoCloseable {
    private val logger = LoggerFactory.getLogger("wxcore") as ch.qos.logback.classic.Logger
    private val appender = ListAppender<ILoggingEvent>().apply { start() }
    private val before = logger.level

    init {
        logger.addAppender(appender)
        logger.level = Level.DEBUG
        // Not also through logback-test.xml's stderr appender: debug lines would flood the test output.
        logger.isAdditive = false
    }

    // AppenderBase appends under its own monitor.
    val lines: List<ILoggingEvent> get() = synchronized(appender) { appender.list.toList() }

    /** Everything a log sink would store: messages, arguments, key-values, exceptions. */
    fun text(): String = lines.joinToString("\n") { e ->
        listOfNotNull(e.formattedMessage, e.argumentArray?.joinToString(), e.keyValuePairs?.joinToString(), e.throwableProxy?.message)
            .joinToString(" ")
    }

    override fun close() {
        logger.detachAppender(appender)
        logger.level = before
        logger.isAdditive = true
    }
}

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitoringTest {
    private lateinit var sim: Simulator
    private val ui = "/cgi-bin/user/info"
    private val secret = "MON-SECRET-" + UUID.randomUUID()
    private val families = mapOf(
        "wxcore_upstream_requests_total" to "counter",
        "wxcore_upstream_request_duration_seconds" to "histogram",
        "wxcore_retries_total" to "counter",
        "wxcore_token_expiry_timestamp_seconds" to "gauge",
        "wxcore_token_refreshes_total" to "counter",
        "wxcore_quota_used" to "gauge",
        "wxcore_quota_limit" to "gauge",
        "wxcore_circuit_open" to "gauge",
        "wxcore_alerts_total" to "counter",
        "wxcore_queued_calls" to "gauge",
        "wxcore_in_flight_calls" to "gauge",
    )

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

    /** Every access token the platform handed out, to search outputs for. */
    private val tokens = Collections.synchronizedList(mutableListOf<String>())

    private fun recording(inner: Http = UrlConnectionHttp()) = Http { req ->
        inner.send(req).also { r ->
            val token = runCatching { Json.parseToJsonElement(String(r.body)).jsonObject["access_token"]?.jsonPrimitive?.content }.getOrNull()
            if (token != null) tokens += token
        }
    }

    private fun client(hosts: List<String> = listOf(sim.primary, sim.dr), http: Http = recording(), maxAttempts: Int? = null) = Client(
        WxConfig(
            listOf(AppConfig("oa", "wechat-oa", "wxmon" + UUID.randomUUID().toString().take(8), secret, hosts = hosts)),
            retry = RetryConfig(maxAttempts = maxAttempts, jitter = false, baseDelayMs = 10, maxDelayMs = 50),
            // A long cool-down: the snapshot is taken while the circuit is still open.
            failover = FailoverConfig(threshold = 1, cooldownMs = 60_000),
            quota = QuotaConfig(limits = mapOf(ui to 100)),
            timeoutMs = 3000,
        ),
        http = http,
    )

    private fun assertNoSecret(where: String, text: String) {
        assertFalse(secret in text, "the AppSecret in $where")
        assertTrue(tokens.isNotEmpty(), "no token recorded: the search below would pass vacuously")
        for (t in tokens) assertFalse(t in text, "an access token in $where")
    }

    @Test
    fun `status and metrics describe the token, the calls and the quota`() {
        val c = client()
        val start = System.currentTimeMillis()
        repeat(3) { c.call("oa", "GET", ui, listOf("openid" to "o$it")) }
        val status = c.status()
        val end = System.currentTimeMillis()

        assertEquals(1, status.getValue("version").jsonPrimitive.int)
        val now = status.getValue("now_ms").jsonPrimitive.long
        assertTrue(now in start..end, "now_ms $now outside $start..$end")
        val app = status.getValue("apps").jsonArray.single().jsonObject
        assertEquals("oa", app.str("app"))
        assertEquals("wechat-oa", app.str("platform"))
        assertEquals("secret", app.str("credential"))
        val token = app.getValue("token").jsonObject
        assertTrue(Regex("[0-9a-f]{16}").matches(token.str("id")!!), "token id ${token["id"]}")
        val expires = token.getValue("expires_at_ms").jsonPrimitive.long
        assertTrue(expires > now + 3_600_000, "the simulator's token lives 7200 s: $token")
        assertEquals(expires - now, token.getValue("remaining_ms").jsonPrimitive.long)
        val last = app.getValue("last_refresh").jsonObject
        assertEquals("initial", last.str("trigger"))
        assertEquals("ok", last.str("result"))
        assertEquals(1, app.getValue("refreshes").jsonPrimitive.long)
        assertFalse(app.getValue("fetching").jsonPrimitive.boolean)
        for (k in listOf("queued", "in_flight", "waiting_for_token")) assertEquals(0, app.getValue(k).jsonPrimitive.int, k)
        assertEquals(JsonNull, app["blocked_until_ms"])
        val quota = status.getValue("quotas").jsonArray.map { it.jsonObject }.single { it.str("api") == ui }
        assertEquals(3, quota.getValue("used").jsonPrimitive.int)
        assertEquals(100, quota.getValue("limit").jsonPrimitive.int)
        assertEquals(3, quota.getValue("percent").jsonPrimitive.int)
        assertFalse(quota.getValue("exhausted").jsonPrimitive.boolean)
        assertTrue(status.getValue("hosts").jsonArray.all { it.jsonObject.str("state") == "closed" }, status.toString())
        assertEquals(0, status.getValue("alerts").jsonArray.size, status.toString())
        assertNoSecret("status", status.toString())

        // The typed view reads the same snapshot.
        val typed = c.statusTyped()
        assertEquals(token.str("id"), typed.apps.single().token?.id)
        assertEquals(expires, typed.apps.single().token?.expiresAtMs)
        assertEquals("initial", typed.apps.single().lastRefresh?.trigger)
        assertEquals(QuotaStatus("oa", ui, 3, 100, 3, false, quota.getValue("resets_at_ms").jsonPrimitive.long), typed.quotas.single { it.api == ui })

        val text = c.metrics()
        val m = samples(text)
        assertEquals(3.0, m.value("wxcore_upstream_requests_total", "app" to "oa", "api" to ui, "outcome" to "ok"))
        assertEquals(3.0, m.value("wxcore_upstream_request_duration_seconds_count", "app" to "oa", "api" to ui))
        assertEquals(3.0, m.value("wxcore_upstream_request_duration_seconds_bucket", "app" to "oa", "api" to ui, "le" to "+Inf"))
        assertEquals(1.0, m.value("wxcore_token_refreshes_total", "app" to "oa", "trigger" to "initial", "result" to "ok"))
        assertEquals(expires / 1000.0, m.value("wxcore_token_expiry_timestamp_seconds", "app" to "oa")!!, 1.0)
        assertEquals(3.0, m.value("wxcore_quota_used", "app" to "oa", "api" to ui))
        assertEquals(100.0, m.value("wxcore_quota_limit", "app" to "oa", "api" to ui))
        assertEquals(0.0, m.value("wxcore_queued_calls", "app" to "oa"))
        assertEquals(0.0, m.value("wxcore_in_flight_calls", "app" to "oa"))
        assertTrue(m.none { it.name == "wxcore_circuit_open" && it.value != "0" }, text)
        assertNoSecret("metrics", text)
    }

    @Test
    fun `a host going down opens its circuit, raises alerts, and every event is logged at its level`() {
        CapturedLog().use { log ->
            val c = client()
            val events = Collections.synchronizedList(mutableListOf<JsonObject>())
            c.on { events += it }
            c.call("oa", "GET", ui, listOf("openid" to "o1"))
            sim.ask("/fault", """{"kind":"errcode","code":-1,"count":1,"path":"$ui"}""")
            c.call("oa", "GET", ui, listOf("openid" to "o2")) // retried once
            sim.ask("/fault", """{"kind":"host","host":"primary","mode":"down"}""")
            c.call("oa", "GET", ui, listOf("openid" to "o3")) // served by the DR host

            val status = c.status()
            val primary = status.getValue("hosts").jsonArray.map { it.jsonObject }.single { it.str("host") == sim.primary }
            assertEquals("open", primary.str("state"))
            assertTrue(primary.getValue("until_ms").jsonPrimitive.long > status.getValue("now_ms").jsonPrimitive.long, primary.toString())
            val alerts = status.getValue("alerts").jsonArray.map { it.jsonObject }
            val markFail = alerts.single { it.str("category") == "mark_fail" }
            assertEquals("oa", markFail.str("app"))
            assertTrue(markFail.getValue("open").jsonPrimitive.boolean)
            assertTrue(markFail.getValue("count_window").jsonPrimitive.int >= 1, markFail.toString())
            // The down host refuses new connections and drops the pooled one.
            val down = alerts.single { it.str("category") in setOf("connect_failure", "connection_reset") }
            assertEquals(sim.primary, down.getValue("sample").jsonObject.str("host"))
            val typed = c.statusTyped()
            assertEquals("open", typed.hosts.single { it.host == sim.primary }.state)
            assertTrue(typed.alerts.any { it.category == "mark_fail" && it.open })

            val text = c.metrics()
            for ((family, type) in families) {
                assertTrue(text.lines().contains("# TYPE $family $type"), "no # TYPE line for $family\n$text")
            }
            val m = samples(text)
            assertEquals(1.0, m.value("wxcore_circuit_open", "host" to sim.primary))
            assertTrue((m.value("wxcore_alerts_total", "app" to "oa", "category" to "mark_fail") ?: 0.0) >= 1.0, text)
            assertTrue(m.filter { it.name == "wxcore_retries_total" && it.labels["app"] == "oa" }.sumOf { it.value.toDouble() } >= 1.0, text)
            assertTrue((m.value("wxcore_upstream_requests_total", "app" to "oa", "api" to ui, "outcome" to down.str("category")!!) ?: 0.0) >= 1.0, text)

            // Each event is logged once at the level the core gave it.
            val types = events.map { it.str("type") }
            for (t in listOf("token_fetched", "retry_scheduled", "circuit_opened", "failover")) assertTrue(t in types, "no $t event: $types")
            val lines = log.lines
            val levels = mapOf("debug" to Level.DEBUG, "info" to Level.INFO, "warn" to Level.WARN, "error" to Level.ERROR)
            for (e in events) {
                val level = levels.getValue(e.str("level")!!)
                val msg = describe(e)
                assertEquals(events.count { describe(it) == msg }, lines.count { it.formattedMessage == msg && it.level == level },
                    "$msg at $level: ${lines.map { "${it.level} ${it.formattedMessage}" }}")
            }
            fun levelOf(type: String) = lines.first { it.formattedMessage.startsWith("$type ") }.level
            assertEquals(Level.INFO, levelOf("token_fetched"))
            assertEquals(Level.DEBUG, levelOf("retry_scheduled"))
            assertTrue(levelOf("circuit_opened").isGreaterOrEqual(Level.WARN), "circuit_opened at ${levelOf("circuit_opened")}")
            val opened = lines.first { it.formattedMessage.startsWith("circuit_opened ") }.formattedMessage
            assertTrue("host=${sim.primary}" in opened, opened)
            assertNoSecret("the logs", log.text())
            assertNoSecret("the status", status.toString())
            assertNoSecret("the metrics", text)
        }
    }

    @Test
    fun `a connect that times out is a connect_timeout alert, not a request timeout`() {
        FullBacklog().use { host ->
            val c = client(hosts = listOf(host.url), http = recording(UrlConnectionHttp(connectTimeoutMs = 300)), maxAttempts = 1)
            val e = assertThrows<WxException> { c.call("oa", "GET", ui, listOf("openid" to "o1")) }
            assertEquals(WxException.Kind.TRANSPORT, e.kind, e.toString())
            val alerts = c.statusTyped().alerts
            val alert = alerts.singleOrNull { it.category == "connect_timeout" }
            assertNotNull(alert, alerts.toString())
            assertEquals(host.url, alert!!.sample?.host)
            assertTrue(alerts.none { it.category == "request_timeout" }, alerts.toString())
            val m = samples(c.metrics())
            assertTrue(m.any { it.name == "wxcore_upstream_requests_total" && it.labels["outcome"] == "connect_timeout" }, m.toString())
        }
    }
}
