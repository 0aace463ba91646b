// Callback crypto and JS-SDK signatures (the core's `callback` module).
package wxcore

import java.security.SecureRandom
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import wxcore.ffi.CallbackCrypto as NativeCrypto

/**
 * A decrypted callback message: its fields, with typed accessors. As the core
 * gives it ([json]): text fields are `String`s, an element with child elements
 * a `Map<String, Any>` (`ScanCodeInfo`, `SendLocationInfo`), an element
 * repeated under one parent a `List<Any>` (`PicList["item"]`).
 */
class CallbackMessage(val json: JsonObject) {
    /** Field name → `String`, `Map<String, Any>` or `List<Any>`. */
    @Suppress("UNCHECKED_CAST")
    val fields: Map<String, Any> = plain(json) as Map<String, Any>
    operator fun get(name: String): Any? = fields[name]
    /** A text field (null for a missing or nested one). */
    fun text(name: String): String? = fields[name] as? String
    val msgType: String? get() = text("MsgType")
    val event: String? get() = text("Event")
    val fromUser: String? get() = text("FromUserName")
    val toUser: String? get() = text("ToUserName")
    val createTime: Long? get() = text("CreateTime")?.trim()?.toLongOrNull()
    val agentId: Long? get() = text("AgentID")?.trim()?.toLongOrNull()

    override fun toString(): String = "CallbackMessage($json)"

    private companion object {
        fun plain(e: JsonElement): Any = when (e) {
            is JsonObject -> e.mapValues { plain(it.value) }
            is JsonArray -> e.map { plain(it) }
            is JsonPrimitive -> e.content
        }
    }
}

private fun message(text: String): CallbackMessage = CallbackMessage(Json.parseToJsonElement(text).jsonObject)

private fun <T> refusals(block: () -> T): T = try {
    block()
} catch (e: wxcore.ffi.WxException) {
    throw WxException.fromNative(e)
}

/**
 * WXBizMsgCrypt for one app. The receive id is checked strictly unless
 * [acceptReceiveIds] is given; [maxAgeS] turns on a replay window;
 * [urlCheck] says which URL check the receiver accepts: `"signature"`
 * (Official Accounts), `"msg_signature"` (WeCom apps, suites, bots) or
 * `"either"` (the default); a `msg_signature` is only ever checked as the
 * four-part signature. Refusals throw [WxException] with `kind` and `reason`.
 */
class CallbackCrypto(
    token: String,
    encodingAesKey: String,
    receiveId: String,
    acceptReceiveIds: List<String>? = null,
    private val maxAgeS: Long? = null,
    urlCheck: String? = null,
) : AutoCloseable {
    private val c: NativeCrypto = refusals { NativeCrypto(token, encodingAesKey, receiveId, acceptReceiveIds, maxAgeS?.toULong(), urlCheck) }
    private val random = SecureRandom()

    private fun now(nowS: Long?): ULong? = if (maxAgeS == null) null else (nowS ?: (System.currentTimeMillis() / 1000)).toULong()

    /**
     * The body to answer a URL check with. [param] names the query parameter the
     * signature came in (`"signature"` or `"msg_signature"`); without it the
     * receiver's [urlCheck] decides.
     */
    fun verifyUrl(signature: String, timestamp: String, nonce: String, echostr: String, nowS: Long? = null, param: String? = null): String =
        refusals {
            if (param != null) c.verifyUrlParam(param, signature, timestamp, nonce, echostr, now(nowS))
            else c.verifyUrl(signature, timestamp, nonce, echostr, now(nowS))
        }

    /** The plaintext of a callback body (XML with Encrypt, or JSON with encrypt). */
    fun decrypt(msgSignature: String, timestamp: String, nonce: String, body: String, nowS: Long? = null): String =
        refusals { c.decrypt(msgSignature, timestamp, nonce, body, now(nowS)) }

    fun decryptMessage(msgSignature: String, timestamp: String, nonce: String, body: String, nowS: Long? = null): CallbackMessage =
        decryptMessage(msgSignature, timestamp, nonce, body.toByteArray(), nowS)

    /** [decryptMessage] over the body's bytes as sent. */
    fun decryptMessage(msgSignature: String, timestamp: String, nonce: String, body: ByteArray, nowS: Long? = null): CallbackMessage =
        message(refusals { c.decryptMessage(msgSignature, timestamp, nonce, body, now(nowS)) })

    /** The encrypted passive-reply XML (16 bytes from SecureRandom unless given). */
    fun encrypt(reply: String, timestamp: String, nonce: String, random16: ByteArray = ByteArray(16).also(random::nextBytes)): String =
        refusals { c.encrypt(reply, timestamp, nonce, random16) }

    /**
     * Framework glue: the request's method, query parameters and body in; an
     * [Inbound] out: [Inbound.Echo] (answer a URL check with it, as text) or
     * [Inbound.Message] (verified and decrypted). Refusals throw [WxException].
     */
    fun handleRequest(method: String, query: Map<String, String>, body: String = "", nowS: Long? = null): Inbound =
        handleRequest(method, query, body.toByteArray(), nowS)

    /** [handleRequest] over the body's bytes as sent. */
    fun handleRequest(method: String, query: Map<String, String>, body: ByteArray, nowS: Long? = null): Inbound {
        val q = JsonObject(query.mapValues { JsonPrimitive(it.value) }).toString().toByteArray()
        return when (val r = refusals { c.handleRequest(method, q, body, now(nowS)) }) {
            is wxcore.ffi.Inbound.Echo -> Inbound.Echo(r.body)
            is wxcore.ffi.Inbound.Message -> Inbound.Message(r.plaintext, message(r.messageJson))
        }
    }

    /** The encrypted passive-reply body for [reply], with a fresh timestamp and nonce. */
    fun reply(reply: String, nowS: Long? = null): String =
        encrypt(reply, (nowS ?: (System.currentTimeMillis() / 1000)).toString(), (random.nextInt() and Int.MAX_VALUE).toString())

    override fun close() = c.close()
}

/** What a callback request asks for. */
sealed class Inbound {
    /** A URL check: answer with [body], as text. */
    data class Echo(val body: String) : Inbound()

    /** A verified (and decrypted) message. */
    data class Message(val plaintext: String, val message: CallbackMessage) : Inbound()
}

/** sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…"), the URL's fragment removed. */
fun jssdkSignature(jsapiTicket: String, noncestr: String, timestamp: String, url: String): String =
    wxcore.ffi.jssdkSignature(jsapiTicket, noncestr, timestamp, url)

/** The object a page passes to `wx.config` (appId, timestamp, nonceStr, signature). */
fun jssdkConfig(
    appId: String, jsapiTicket: String, url: String,
    noncestr: String = java.util.UUID.randomUUID().toString().replace("-", "").take(16),
    timestamp: String = (System.currentTimeMillis() / 1000).toString(),
): kotlinx.serialization.json.JsonObject =
    kotlinx.serialization.json.Json.parseToJsonElement(wxcore.ffi.jssdkConfigJson(appId, jsapiTicket, noncestr, timestamp, url)).let {
        it as kotlinx.serialization.json.JsonObject
    }

/**
 * WeChat server API security primitives. The engine seals and opens calls
 * to an app's `api_security.paths` by itself; these are for checking
 * published values and for tooling. Failures throw [WxException].
 */
object ApiSecurity {
    private val random = SecureRandom()

    /** The sealed body `{"iv","data","authtag"}` (AAD `urlPath|appId|timestamp|symSn`). */
    fun seal(symKey: String, symSn: String, appId: String, urlPath: String, timestamp: Long, iv: ByteArray, plaintext: ByteArray): String =
        refusals { wxcore.ffi.apiSecuritySeal(symKey, symSn, appId, urlPath, timestamp.toULong(), direct(iv), direct(plaintext)) }

    /** The plaintext of a sealed body; `signature_invalid` if it does not open. */
    fun open(symKey: String, symSn: String, appId: String, urlPath: String, timestamp: Long, body: ByteArray): ByteArray =
        refusals { wxcore.ffi.apiSecurityOpen(symKey, symSn, appId, urlPath, timestamp.toULong(), direct(body)) }

    /** RSA-PSS SHA-256 (salt 32) signature, base64, of `urlPath\nappId\ntimestamp\ndata`. */
    fun sign(
        privateKeyPem: String, urlPath: String, appId: String, timestamp: Long, data: ByteArray,
        seed: ByteArray = ByteArray(32).also { random.nextBytes(it) },
    ): String = refusals { wxcore.ffi.apiSecuritySign(privateKeyPem, urlPath, appId, timestamp.toULong(), direct(data), direct(seed)) }

    /** Whether [signature] verifies under [keyPem] (certificate, public or private key). */
    fun verify(keyPem: String, urlPath: String, appId: String, timestamp: Long, data: ByteArray, signature: String): Boolean =
        refusals { wxcore.ffi.apiSecurityVerify(keyPem, urlPath, appId, timestamp.toULong(), direct(data), signature) }
}

/**
 * What a push to a callback URL came to ([Client.handlePush]): [reply] to
 * answer the platform with; the push's [infoType]; [ticketKept] for a ticket
 * push (false: not newer than the held one, ignored); [message] for any
 * other push, verified, for the host to act on; [authorizer] for an
 * authorization push (`authorized`, `updateauthorized`, `unauthorized`): the
 * authorizer's app name, `{component}/{authorizer_appid}`, already acted on.
 */
class Push(
    val reply: String,
    val infoType: String,
    val ticketKept: Boolean?,
    val message: CallbackMessage?,
    val authorizer: String? = null,
) {
    override fun toString() = "Push(infoType=$infoType, ticketKept=$ticketKept)"

    internal companion object {
        fun fromJson(doc: JsonObject) = Push(
            reply = doc.getValue("reply").jsonPrimitive.content,
            infoType = doc.getValue("info_type").jsonPrimitive.content,
            ticketKept = (doc["ticket_kept"] as? JsonPrimitive)?.booleanOrNull,
            message = (doc["message"] as? JsonObject)?.let { CallbackMessage(it) },
            authorizer = (doc["authorizer"] as? JsonPrimitive)?.contentOrNull,
        )
    }
}
