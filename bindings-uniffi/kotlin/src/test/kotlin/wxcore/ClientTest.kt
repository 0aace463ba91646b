// The Kotlin driver over an in-process transport.
package wxcore

import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.ConnectException
import java.net.http.HttpTimeoutException
import wxcore.WxException.Kind

class ClientTest {
    private val config = """{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wxA","secret":"SECRET"}],
        "retry":{"jitter":false,"base_delay_ms":1,"max_delay_ms":2}}"""

    /** Answers like the OA platform; records what it was asked. */
    private class FakePlatform : Http {
        val requests = mutableListOf<HttpRequest>()
        val failNext = ArrayDeque<Any>()
        var token = 0
        private fun json(s: String) = HttpResponse(200, mapOf("Content-Type" to "application/json"), s.toByteArray())
        override fun send(request: HttpRequest): HttpResponse {
            requests += request
            failNext.removeFirstOrNull()?.let { f -> if (f is Exception) throw f else return json(f as String) }
            return when {
                "/cgi-bin/stable_token" in request.url -> json("""{"access_token":"T${++token}","expires_in":7200}""")
                "/cgi-bin/media/get" in request.url -> HttpResponse(200, mapOf("Content-Type" to "image/jpeg"), byteArrayOf(-1, -40, -1))
                else -> json("""{"url":"${request.url}"}""")
            }
        }
    }

    private fun url(reply: JsonElement) = reply.jsonObject.getValue("url").jsonPrimitive.content

    @Test
    fun aCallsOwnTimeoutMsEndsItWithTimeout() {
        val slow = Http { request ->
            if ("stable_token" in request.url) Thread.sleep(400)
            HttpResponse(200, mapOf("Content-Type" to "application/json"),
                """{"access_token":"T1","expires_in":7200}""".toByteArray())
        }
        val c = Client(config, http = slow)
        val e = assertThrows<WxException> { c.call("oa", "GET", "/cgi-bin/user/info", timeoutMs = 100) }
        assertEquals(Kind.TIMEOUT to "token", e.kind to e.code?.toString()?.trim('"'))
    }

    @Test
    fun callsShareOneTokenFetchAndReturnParsedJson() {
        val p = FakePlatform()
        val c = Client(config, http = p)
        val a = c.call("oa", "GET", "/cgi-bin/user/info", query = listOf("openid" to "o 1"))
        c.call("oa", "GET", "/cgi-bin/user/info", query = listOf("openid" to "o2"))
        assertEquals("https://api.weixin.qq.com/cgi-bin/user/info?access_token=T1&openid=o%201", url(a))
        assertEquals(1, p.requests.count { "stable_token" in it.url })
    }

    @Test
    fun binaryRepliesAreBytesAndJsonBodiesAreSent() {
        val p = FakePlatform()
        val c = Client(config, http = p)
        assertArrayEquals(byteArrayOf(-1, -40, -1), c.callBytes("oa", "GET", "/cgi-bin/media/get", query = listOf("media_id" to "M1")))
        c.call("oa", "POST", "/cgi-bin/message/custom/send", json = """{"touser":"o1"}""")
        assertEquals("""{"touser":"o1"}""", String(p.requests.last().body!!))
        assertEquals("application/json", p.requests.last().headers["content-type"])
    }

    /**
     * The driver's native buffers start at 8 KiB in and 16 KiB out, grow up
     * to 1 MiB and are bypassed beyond: bodies and replies on each side of
     * those sizes, in both directions, come through byte for byte (a reply
     * past the out buffer is the frame Rust keeps and the driver frees).
     */
    @Test
    fun bodiesAndRepliesPastTheNativeBuffersComeThroughWhole() {
        val sizes = listOf(0, 100, 9_000, 17_000, 300_000, 2_500_000)
        val pattern = { n: Int -> ByteArray(n) { (it * 31 + 7).toByte() } }
        val seen = mutableListOf<Int>()
        val p = Http { request ->
            if ("stable_token" in request.url) return@Http HttpResponse(200, mapOf("Content-Type" to "application/json"),
                """{"access_token":"T1","expires_in":7200}""".toByteArray())
            seen += request.body?.size ?: -1
            val n = Regex("n=(\\d+)").find(request.url)!!.groupValues[1].toInt()
            HttpResponse(200, mapOf("Content-Type" to "application/octet-stream", "X-Size" to "$n"), pattern(n))
        }
        val c = Client(config, http = p)
        for (up in sizes) for (down in sizes) {
            val r = c.callFull("oa", "POST", "/cgi-bin/media/upload", query = listOf("n" to "$down"),
                body = pattern(up), contentType = "application/octet-stream")
            assertArrayEquals(pattern(down), r.bytes ?: r.json.toString().toByteArray(), "reply of $down bytes after a body of $up")
            assertEquals("$down", r.headers.first { it.first.equals("x-size", true) }.second)
            assertEquals(up, seen.last(), "body of $up bytes")
        }
        // A small call after the big ones still goes through (buffers kept or replaced, not left freed).
        assertArrayEquals(pattern(5), c.callBytes("oa", "GET", "/cgi-bin/media/get", query = listOf("n" to "5")))
    }

    @Test
    fun failuresThrowWxExceptionWithKindCodeAndRetryAfter() {
        val p = FakePlatform()
        val events = mutableListOf<String>()
        val c = Client(config, http = p)
        c.on { events += it.getValue("type").jsonPrimitive.content }
        c.call("oa", "GET", "/cgi-bin/user/info")
        p.failNext += """{"errcode":45009,"errmsg":"daily quota"}"""
        val e = assertThrows<WxException> { c.call("oa", "POST", "/cgi-bin/message/mass/sendall", json = "{}") }
        assertEquals(Kind.QUOTA_EXHAUSTED, e.kind)
        assertEquals(45009L, e.code)
        assertTrue((e.retryAfterMs ?: 0) > 0)
        assertTrue("quota_exhausted" in events)
        val n = p.requests.size
        assertThrows<WxException> { c.call("oa", "POST", "/cgi-bin/message/mass/sendall", json = "{}") }
        assertEquals(n, p.requests.size, "refused locally")
    }

    @Test
    fun invalidTokenIsRefreshedOnce() {
        val p = FakePlatform()
        val c = Client(config, http = p)
        c.call("oa", "GET", "/cgi-bin/user/info")
        p.failNext += """{"errcode":40001,"errmsg":"invalid credential"}"""
        assertTrue("access_token=T2" in url(c.call("oa", "GET", "/cgi-bin/user/info")))
    }

    @Test
    fun transportErrorsMapToEngineKinds() {
        val p = FakePlatform()
        val c = Client(config, http = p)
        c.call("oa", "GET", "/cgi-bin/user/info")
        p.failNext += ConnectException("refused")
        assertTrue(url(c.call("oa", "POST", "/cgi-bin/message/custom/send", json = "{}")).startsWith("https://api2.weixin.qq.com/"))
        p.failNext += HttpTimeoutException("timed out")
        val e = assertThrows<WxException> { c.call("oa", "POST", "/cgi-bin/message/custom/send", json = "{}") }
        assertEquals(Kind.TRANSPORT, e.kind)
        assertEquals("timeout", e.code)
    }

    @Test
    fun aThrowingListenerCostsNoCall() {
        val c = Client(config, http = FakePlatform())
        c.on { throw IllegalStateException("listener bug") }
        assertTrue("access_token=T1" in url(c.call("oa", "GET", "/cgi-bin/user/info")))
        assertEquals("dns", transportKind(ConnectException().apply { initCause(java.nio.channels.UnresolvedAddressException()) }))
    }

    @Test
    fun badConfigNamesTheField() {
        val e = assertThrows<WxException> {
            Client("""{"apps":[{"id":"j","platform":"jing","app_id":"a","secret":"s","base_url":"https://j"}]}""")
        }
        assertEquals(Kind.CONFIG, e.kind)
        assertEquals("apps[0].token_path", e.field)
        assertEquals(22, KINDS.size)
    }
}
