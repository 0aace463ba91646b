// The Jedis store adapter against a real redis-server (started here on a
// free loopback port), alone and under two engines sharing one app.
package wxcore

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.boolean
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import redis.clients.jedis.DefaultJedisClientConfig
import redis.clients.jedis.HostAndPort
import redis.clients.jedis.Jedis
import redis.clients.jedis.JedisPooled
import java.net.ServerSocket
import java.util.UUID
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RedisStoreTest {
    private lateinit var server: Process
    private lateinit var redis: JedisPooled
    private lateinit var store: RedisStore
    private var port = 0

    @BeforeAll
    fun start() {
        port = ServerSocket(0).use { it.localPort }
        server = ProcessBuilder("redis-server", "--port", "$port", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
        redis = JedisPooled(HostAndPort("127.0.0.1", port), DefaultJedisClientConfig.builder().socketTimeoutMillis(1000).build())
        repeat(100) {
            if (runCatching { redis.ping() }.isSuccess) return@repeat
            Thread.sleep(50)
        }
        store = RedisStore(redis)
    }

    @AfterAll
    fun stop() {
        redis.close()
        server.destroy()
        server.waitFor(5, TimeUnit.SECONDS)
    }

    private fun op(json: String): JsonObject = store.execute(Json.parseToJsonElement(json).jsonObject)

    @Test
    fun `get, set with a TTL, lease, owner-checked unlock, counted increments`() {
        val k = "t:" + UUID.randomUUID()
        assertEquals(kotlinx.serialization.json.JsonNull, op("""{"op":"get","key":"$k"}""")["value"])
        op("""{"op":"set","key":"$k","value":"{\"v\":1}","ttl_ms":60000}""")
        assertEquals("{\"v\":1}", op("""{"op":"get","key":"$k"}""").getValue("value").jsonPrimitive.content)
        assertTrue(redis.pttl(k) in 1..60000)
        op("""{"op":"set","key":"$k:durable","value":"{\"v\":1}","ttl_ms":0}""")
        assertEquals(-1L, redis.pttl("$k:durable"), "ttl_ms 0 stores without expiry")

        val lk = "l:" + UUID.randomUUID()
        assertTrue(op("""{"op":"lock","key":"$lk","owner":"p1","ttl_ms":5000}""").getValue("locked").jsonPrimitive.boolean)
        assertFalse(op("""{"op":"lock","key":"$lk","owner":"p2","ttl_ms":5000}""").getValue("locked").jsonPrimitive.boolean)
        op("""{"op":"unlock","key":"$lk","owner":"p2"}""") // not the owner: the lease stays
        assertEquals("p1", redis.get(lk))
        op("""{"op":"unlock","key":"$lk","owner":"p1"}""")
        assertNull(redis.get(lk))

        val qk = "q:" + UUID.randomUUID()
        assertEquals(1, op("""{"op":"incr_by","key":"$qk","delta":1,"ttl_ms":30000}""").getValue("count").jsonPrimitive.long)
        assertEquals(3, op("""{"op":"incr_by","key":"$qk","delta":2,"ttl_ms":30000}""").getValue("count").jsonPrimitive.long)
        assertTrue(redis.pttl(qk) in 1..30000)
    }

    @Test
    fun `scripts run by SHA, and are loaded again after Redis forgets them`() {
        fun calls(command: String): Long =
            Regex("cmdstat_$command:calls=(\\d+)").find(Jedis("127.0.0.1", port).use { it.info("commandstats") })?.groupValues?.get(1)?.toLong() ?: 0
        val qk = "q:" + UUID.randomUUID()
        op("""{"op":"incr_by","key":"$qk","delta":1,"ttl_ms":30000}""")
        redis.scriptFlush() // what a restart does to the script cache
        val (eval, evalsha) = calls("eval") to calls("evalsha")
        assertEquals(2, op("""{"op":"incr_by","key":"$qk","delta":1,"ttl_ms":30000}""").getValue("count").jsonPrimitive.long)
        assertEquals(3, op("""{"op":"incr_by","key":"$qk","delta":1,"ttl_ms":30000}""").getValue("count").jsonPrimitive.long)
        op("""{"op":"unlock","key":"$qk-lease","owner":"p1"}""")
        // After the NOSCRIPT miss, by SHA every time; the script text never sent with EVAL.
        assertEquals(eval, calls("eval"))
        assertTrue(calls("evalsha") >= evalsha + 3)
    }

    @Test
    fun `two engines sharing an app through Redis make one token fetch`() {
        Simulator().use { sim ->
            sim.ask("/config", """{"latency_ms":20,"token_latency_ms":200}""")
            val app = "wxkt" + UUID.randomUUID().toString().take(8)
            fun client(name: String) = Client(
                """{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"$app","secret":"s","hosts":["${sim.primary}"]}],
                    "store":"external","instance_id":"$name","store_poll_ms":50}""",
                store = store,
            )
            val clients = listOf(client("k1"), client("k2"))
            val pool = Executors.newFixedThreadPool(8)
            val jobs = (0 until 16).map { i -> pool.submit<Any> { clients[i % 2].call("oa", "GET", "/cgi-bin/user/info", listOf("openid" to "o$i")) } }
            jobs.forEach { it.get(30, TimeUnit.SECONDS) }
            pool.shutdown()
            val c = sim.counters()
            assertEquals(1, c.count("token_fetches", app))
            assertEquals(16, c.count("calls", app, "/cgi-bin/user/info"))
        }
    }
}
