// The published callback and JS-SDK values (tests/vectors/crypto-official.json), byte for byte.
package wxcore

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import wxcore.WxException.Kind

class CryptoTest {
    private val v = Json.parseToJsonElement(File(System.getProperty("wxcore.vectors") ?: "../../tests/vectors", "crypto-official.json").readText()).jsonObject
    private fun JsonObject.s(k: String) = getValue(k).jsonPrimitive.content
    private fun body(e: String) = "<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[$e]]></Encrypt></xml>"
    private fun sigOf(xml: String) = xml.substringAfter("<MsgSignature><![CDATA[").substringBefore("]]>")

    @Test
    fun officialCallbacksDecrypt() {
        for (c in v.getValue("callback").jsonArray.map { it.jsonObject }) {
            val crypto = CallbackCrypto(c.s("token"), c.s("encoding_aes_key"), c.s("receive_id"))
            assertEquals(c.s("plaintext"), crypto.decrypt(c.s("msg_signature"), c.s("timestamp"), c.s("nonce"), body(c.s("encrypt"))))
            val m = crypto.decryptMessage(c.s("msg_signature"), c.s("timestamp"), c.s("nonce"), """{"encrypt":"${c.s("encrypt")}"}""")
            assertTrue(m.toUser != null && m.fromUser != null && (m.createTime ?: 0) > 0)
        }
    }

    @Test
    fun urlVerificationBothStylesAndJssdk() {
        for (p in v.getValue("url_verification_plain").jsonArray.map { it.jsonObject }) {
            val crypto = CallbackCrypto(p.s("token"), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "")
            assertEquals(p.s("echostr"), crypto.verifyUrl(p.s("signature"), p.s("timestamp"), p.s("nonce"), p.s("echostr")))
        }
        val w = v.getValue("callback").jsonArray[1].jsonObject
        val u = w.getValue("verify_url").jsonObject
        val crypto = CallbackCrypto(w.s("token"), w.s("encoding_aes_key"), w.s("receive_id"))
        assertEquals(u.s("reply"), crypto.verifyUrl(u.s("msg_signature"), u.s("timestamp"), u.s("nonce"), u.s("echostr")))
        val e = assertThrows<WxException> { crypto.verifyUrl("0".repeat(40), u.s("timestamp"), u.s("nonce"), u.s("echostr")) }
        assertEquals(Kind.SIGNATURE_INVALID to "bad_signature", e.kind to e.reason)
        for (j in v.getValue("jssdk").jsonArray.map { it.jsonObject }) {
            assertEquals(j.s("signature"), jssdkSignature(j.s("jsapi_ticket"), j.s("noncestr"), j.s("timestamp"), j.s("url")))
            assertEquals(j.s("signature"), jssdkSignature(j.s("jsapi_ticket"), j.s("noncestr"), j.s("timestamp"), j.s("url") + "#x"))
            val page = jssdkConfig("wxAPP", j.s("jsapi_ticket"), j.s("url"), j.s("noncestr"), j.s("timestamp"))
            assertEquals(listOf("wxAPP", j.s("noncestr"), j.s("signature")), listOf(page.s("appId"), page.s("nonceStr"), page.s("signature")))
        }
    }

    @Test
    fun encryptRoundTripsAndRefusals() {
        val c = v.getValue("callback").jsonArray[0].jsonObject
        val crypto = CallbackCrypto(c.s("token"), c.s("encoding_aes_key"), c.s("receive_id"))
        for (msg in listOf("", "你好 🌏", "x".repeat(1 shl 20))) {
            val xml = crypto.encrypt(msg, "1409735669", "n1")
            assertEquals(msg, crypto.decrypt(sigOf(xml), "1409735669", "n1", xml))
        }
        val xml = CallbackCrypto(c.s("token"), c.s("encoding_aes_key"), "wxOTHER").encrypt("hi", "1", "n")
        assertEquals("receive_id_mismatch", assertThrows<WxException> { crypto.decrypt(sigOf(xml), "1", "n", xml) }.reason)
        val relaxed = CallbackCrypto(c.s("token"), c.s("encoding_aes_key"), c.s("receive_id"), acceptReceiveIds = listOf(c.s("receive_id"), "wxOTHER"))
        assertEquals("hi", relaxed.decrypt(sigOf(xml), "1", "n", xml))
        val bad = assertThrows<WxException> { CallbackCrypto("t", "short", "x") }
        assertEquals(Kind.CONFIG to "invalid_encoding_aes_key", bad.kind to bad.reason)
        val strict = CallbackCrypto(c.s("token"), c.s("encoding_aes_key"), c.s("receive_id"), maxAgeS = 300)
        val stale = assertThrows<WxException> {
            strict.decrypt(c.s("msg_signature"), c.s("timestamp"), c.s("nonce"), body(c.s("encrypt")), nowS = c.s("timestamp").toLong() + 301)
        }
        assertEquals("stale_timestamp", stale.reason)
    }

    @Test
    fun apiSecurityPublishedRequestByteForByte() {
        for (e in v.getValue("api_security_request").jsonArray) {
            val r = e.jsonObject
            val url = r.s("url")
            val appid = r.s("appid")
            val ts = r.getValue("timestamp").jsonPrimitive.content.toLong()
            val pem = r.s("rsa_private_key_pem")
            val body = ApiSecurity.seal(r.s("sym_key"), r.s("sym_sn"), appid, url, ts,
                java.util.Base64.getDecoder().decode(r.s("iv")), r.s("plaintext").toByteArray())
            val sealed = Json.parseToJsonElement(body).jsonObject
            assertEquals(listOf(r.s("iv"), r.s("data"), r.s("authtag")), listOf(sealed.s("iv"), sealed.s("data"), sealed.s("authtag")))
            assertTrue(ApiSecurity.verify(pem, url, appid, ts, body.toByteArray(), r.s("signature")))
            assertFalse(ApiSecurity.verify(pem, url, appid, ts + 1, body.toByteArray(), r.s("signature")))
            assertEquals(r.s("plaintext"), String(ApiSecurity.open(r.s("sym_key"), r.s("sym_sn"), appid, url, ts, body.toByteArray())))
            assertTrue(ApiSecurity.verify(pem, url, appid, ts, body.toByteArray(), ApiSecurity.sign(pem, url, appid, ts, body.toByteArray())))
            val refused = assertThrows<WxException> { ApiSecurity.open(r.s("sym_key"), r.s("sym_sn"), appid, url, ts + 1, body.toByteArray()) }
            assertEquals(Kind.SIGNATURE_INVALID, refused.kind)
        }
    }

    @Test
    fun handleRequestUrlChecksMessagesAndReplies() {
        val p = v.getValue("url_verification_plain").jsonArray[0].jsonObject
        val c = CallbackCrypto(p.s("token"), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx")
        val echo = c.handleRequest("GET", mapOf("signature" to p.s("signature"), "timestamp" to p.s("timestamp"), "nonce" to p.s("nonce"), "echostr" to p.s("echostr")))
        assertEquals(Inbound.Echo(p.s("echostr")), echo)
        val o = v.getValue("callback").jsonArray[0].jsonObject
        val oc = CallbackCrypto(o.s("token"), o.s("encoding_aes_key"), o.s("receive_id"))
        val r = oc.handleRequest("POST", mapOf("msg_signature" to o.s("msg_signature"), "timestamp" to o.s("timestamp"), "nonce" to o.s("nonce")), body(o.s("encrypt")))
        assertEquals(o.s("plaintext"), (r as Inbound.Message).plaintext)
        assertEquals("text", r.message.msgType)
        val reply = oc.reply("<xml><Content><![CDATA[收到]]></Content></xml>")
        fun tag(t: String) = reply.substringAfter("<$t>").substringBefore("</$t>").removePrefix("<![CDATA[").removeSuffix("]]>")
        val back = oc.handleRequest("POST", mapOf("msg_signature" to tag("MsgSignature"), "timestamp" to tag("TimeStamp"), "nonce" to tag("Nonce")), reply)
        assertEquals("收到", (back as Inbound.Message).message["Content"])
        val e = assertThrows<WxException> { oc.handleRequest("POST", mapOf("timestamp" to "1", "nonce" to "2"), body(o.s("encrypt"))) }
        assertEquals("missing_param", e.reason)
    }
}
