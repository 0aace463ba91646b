// Issue 12, hardening at the edges: forged URL checks, plaintexts that are not
// one message, nested events (tests/vectors/callback-edges.json, shared with
// every language); and the driver over real loopback HTTP: a total deadline in
// the JDK transport, and every request answered whatever escapes the transport.
package wxcore

import com.sun.net.httpserver.HttpServer
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.net.InetSocketAddress
import wxcore.WxException.Kind

class EdgesTest {
    private val e = Json.parseToJsonElement(File(System.getProperty("wxcore.vectors") ?: "../../tests/vectors", "callback-edges.json").readText()).jsonObject
    private val r = e.getValue("receiver").jsonObject
    private fun JsonObject.s(k: String) = getValue(k).jsonPrimitive.content
    private fun receiver(urlCheck: String? = null) = CallbackCrypto(r.s("token"), r.s("encoding_aes_key"), r.s("receive_id"), urlCheck = urlCheck)
    private fun JsonObject.query() = mapValues { it.value.jsonPrimitive.content }

    private fun post(c: CallbackCrypto, plaintext: String): Pair<Map<String, String>, String> {
        val reply = c.encrypt(plaintext, "1700000000", "n1", ByteArray(16) { 5 })
        val sig = reply.substringAfter("<MsgSignature><![CDATA[").substringBefore("]]>")
        return mapOf("msg_signature" to sig, "timestamp" to "1700000000", "nonce" to "n1") to reply
    }

    @Test
    fun forgedUrlChecksAreRefused() {
        val wecom = receiver("msg_signature")
        val observed = e.getValue("observed_url_check").jsonObject
        assertEquals(Inbound.Echo(observed.s("echo")), wecom.handleRequest("GET", observed.getValue("query").jsonObject.query()))
        for (f in e.getValue("forged_url_checks").jsonArray.map { it.jsonObject }) {
            val q = f.getValue("query").jsonObject.query()
            val receivers = listOf(wecom) +
                if (f["any_receiver"]?.jsonPrimitive?.booleanOrNull == true) listOf(receiver(), receiver("signature")) else emptyList()
            for (c in receivers) {
                val x = assertThrows<WxException>(f.s("name")) { c.handleRequest("GET", q) }
                assertEquals(Kind.SIGNATURE_INVALID to "bad_signature", x.kind to x.reason, f.s("name"))
            }
            val param = if ("msg_signature" in q) "msg_signature" else "signature"
            val x = assertThrows<WxException> { wecom.verifyUrl(q.getValue(param), q.getValue("timestamp"), q.getValue("nonce"), q.getValue("echostr")) }
            assertEquals("bad_signature", x.reason)
        }
        val bad = assertThrows<WxException> { receiver("sometimes") }
        assertEquals(Kind.CONFIG to "invalid_url_check", bad.kind to bad.reason)
    }

    @Test
    fun plaintextsThatAreNotOneMessageAreMalformed() {
        val c = receiver()
        for (p in e.getValue("not_one_message").jsonArray.map { it.jsonPrimitive.content }) {
            val (q, body) = post(c, p)
            val a = assertThrows<WxException>(p) { c.decryptMessage(q.getValue("msg_signature"), q.getValue("timestamp"), q.getValue("nonce"), body) }
            assertEquals(Kind.INVALID_REQUEST to "malformed_body", a.kind to a.reason, p)
            val b = assertThrows<WxException>(p) { c.handleRequest("POST", q, body) }
            assertEquals("malformed_body", b.reason, p)
        }
    }

    @Test
    fun nestedElementsAreKept() {
        val c = receiver()
        for (m in e.getValue("nested_messages").jsonArray.map { it.jsonObject }) {
            val (q, body) = post(c, m.s("plaintext"))
            val got = c.decryptMessage(q.getValue("msg_signature"), q.getValue("timestamp"), q.getValue("nonce"), body)
            assertEquals(m.getValue("message"), got.json, m.s("name"))
            assertEquals(m.getValue("message"), (c.handleRequest("POST", q, body) as Inbound.Message).message.json, m.s("name"))
        }
        val byEvent = e.getValue("nested_messages").jsonArray.map { it.jsonObject }.associateBy { it.getValue("message").jsonObject["Event"]?.jsonPrimitive?.content }
        val (q, body) = post(c, byEvent.getValue("scancode_waitmsg").s("plaintext"))
        val scan = (c.handleRequest("POST", q, body) as Inbound.Message).message
        assertEquals("scancode_waitmsg", scan.event)
        assertEquals(mapOf("ScanType" to "qrcode", "ScanResult" to "2"), scan["ScanCodeInfo"])
        val (lq, lbody) = post(c, byEvent.getValue("location_select").s("plaintext"))
        val loc = (c.handleRequest("POST", lq, lbody) as Inbound.Message).message
        assertEquals(" 广州市海珠区客村艺苑路 106号", (loc["SendLocationInfo"] as Map<*, *>)["Label"])
    }

    @Test
    fun aBodyThatIsNotUtf8IsRefusedByTheCore() {
        val raw = java.util.Base64.getDecoder().decode(e.s("not_utf8_body"))
        val x = assertThrows<WxException> { receiver().handleRequest("POST", mapOf("msg_signature" to "0".repeat(40), "timestamp" to "1", "nonce" to "n"), raw) }
        assertEquals("malformed_body", x.reason)
    }

    // ---- the driver over loopback HTTP ----

    private fun server(handle: (com.sun.net.httpserver.HttpExchange) -> Unit): HttpServer =
        HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { ex -> try { handle(ex) } catch (_: java.io.IOException) { } finally { ex.close() } }
            executor = java.util.concurrent.Executors.newCachedThreadPool()
            start()
        }

    private fun HttpServer.url() = "http://127.0.0.1:${address.port}"

    private fun json(ex: com.sun.net.httpserver.HttpExchange, body: String) {
        val b = body.toByteArray()
        ex.responseHeaders.add("Content-Type", "application/json")
        ex.sendResponseHeaders(200, b.size.toLong())
        ex.responseBody.write(b)
    }

    private val resultApp = """{"id":"res","platform":"result","app_id":"ACCOUNT","secret":"TOKEN-ID-SECRET",
        "token_placement":{"in":"header","name":"token_id","extra":[["account_key","{app_id}"]]}"""

    @Test
    fun aTrickledBodyEndsAtTheCallsDeadline() {
        val s = server { ex ->
            ex.responseHeaders.add("Content-Type", "application/json")
            ex.sendResponseHeaders(200, 40)
            repeat(40) {
                ex.responseBody.write(' '.code)
                ex.responseBody.flush()
                Thread.sleep(1000)
            }
        }
        try {
            val client = Client("""{"apps":[$resultApp,"base_url":"${s.url()}"}],"retry":{"max_attempts":1},"timeout_ms":1000}""")
            val start = System.nanoTime()
            val x = assertThrows<WxException> { client.call("res", "GET", "/slow") }
            val elapsed = (System.nanoTime() - start) / 1_000_000
            assertEquals(Kind.TRANSPORT, x.kind)
            assertTrue(elapsed < 1750, "$elapsed ms")
        } finally {
            s.stop(0)
        }
    }

    @Test
    fun anErrorFromHttpIsReportedThenACallSucceeds() {
        val s = server { ex ->
            if (ex.requestURI.path.startsWith("/cgi-bin/gettoken")) json(ex, """{"errcode":0,"access_token":"T","expires_in":7200}""")
            else json(ex, """{"errcode":0,"errmsg":"ok"}""")
        }
        try {
            var n = 0
            val inner = UrlConnectionHttp()
            val http = Http { req -> if (++n == 1) throw StackOverflowError("thrown by the transport") else inner.send(req) }
            val client = Client("""{"apps":[{"id":"hr","platform":"wecom","corp_id":"ww","agent_id":"1","secret":"s","hosts":["${s.url()}"]}]}""", http = http)
            assertThrows<StackOverflowError> { client.call("hr", "GET", "/cgi-bin/user/get", listOf("userid" to "u")) }
            val ok = client.call("hr", "GET", "/cgi-bin/user/get", listOf("userid" to "u")).jsonObject
            assertEquals(JsonPrimitive(0), ok["errcode"])
        } finally {
            s.stop(0)
        }
    }
}
