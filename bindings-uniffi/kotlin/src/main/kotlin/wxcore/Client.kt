// The Kotlin driver: runs the wxcore engine's loop over a blocking HTTP
// transport. Every decision (tokens, retries, quotas, failover) is the
// engine's; this file only executes its outputs and feeds results back.
package wxcore

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.longOrNull
import java.net.ConnectException
import java.net.NoRouteToHostException
import java.net.SocketTimeoutException
import java.net.URI
import java.net.UnknownHostException
import java.net.http.HttpClient
import java.net.http.HttpTimeoutException
import java.nio.ByteBuffer
import java.time.Duration
import java.util.Base64
import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock
import javax.net.ssl.SSLException
import wxcore.ffi.Engine as NativeEngine

/** A request for the host's HTTP layer. */
class HttpRequest(val method: String, val url: String, val headers: Map<String, String>, val body: ByteArray?, val timeoutMs: Long)

/** The host's answer. */
class HttpResponse(val status: Int, val headers: Map<String, String>, val body: ByteArray)

/** What a user plugs in for HTTP. Transport failures throw `IOException`s. */
fun interface Http {
    fun send(request: HttpRequest): HttpResponse
}

/** Fleet mode: runs the engine's store operations (get, set, lock, unlock, incr_by) against a shared store. */
fun interface Store {
    fun execute(op: JsonObject): JsonObject
}

/** A failed call. `kind` is one of [KINDS]; `code` is the platform's (Long or String). */
class WxException(
    val kind: String,
    message: String,
    val code: Any? = null,
    val subMessage: String? = null,
    val httpStatus: Int? = null,
    val retryAfterMs: Long? = null,
    val app: String = "",
    val callId: Long = 0,
    val field: String? = null,
    val rawBody: String? = null,
    /** For callback refusals: `bad_signature`, `receive_id_mismatch`, `stale_timestamp`, … */
    val reason: String? = null,
) : RuntimeException(if (message.isEmpty()) kind else "$kind: $message") {
    companion object {
        internal fun fromOutput(e: JsonObject): WxException {
            val code = (e["code"] as? JsonPrimitive)?.let { p -> if (p.isString) p.content else p.longOrNull }
            return WxException(
                kind = e.str("kind") ?: "unknown",
                message = e.str("message") ?: "",
                code = code,
                subMessage = e.str("sub_message"),
                httpStatus = (e["http_status"] as? JsonPrimitive)?.longOrNull?.toInt(),
                retryAfterMs = (e["retry_after_ms"] as? JsonPrimitive)?.longOrNull,
                app = e.str("app") ?: "",
                callId = (e["call_id"] as? JsonPrimitive)?.longOrNull ?: 0,
                rawBody = e.str("raw_body"),
            )
        }

        internal fun fromNative(e: wxcore.ffi.WxException): WxException = when (e) {
            is wxcore.ffi.WxException.Config -> WxException("config", e.`detail`, field = e.`field`)
            is wxcore.ffi.WxException.Callback -> WxException(e.`kind`, e.`detail`, reason = e.`reason`)
        }
    }
}

/** The stable kind names shared by every language (from the core). */
val KINDS: List<String> by lazy { wxcore.ffi.errorKinds() }

/** The full answer of a successful call: `json` for a JSON body, `bytes` otherwise. */
class Reply(val status: Int, val headers: List<Pair<String, String>>, val json: JsonElement?, val bytes: ByteArray?)

/**
 * The default transport: `java.net.http.HttpClient`, redirects never followed
 * (a 3xx is the API's answer), and the request's timeout a total deadline:
 * the JDK's own request timeout ends at the response headers, so a body
 * trickling in byte by byte is cut off here, as an `HttpTimeoutException`.
 */
class JdkHttp(
    private val client: HttpClient = HttpClient.newBuilder()
        .connectTimeout(Duration.ofSeconds(5))
        .followRedirects(HttpClient.Redirect.NEVER)
        .build(),
) : Http {
    override fun send(request: HttpRequest): HttpResponse {
        val body = request.body?.let { java.net.http.HttpRequest.BodyPublishers.ofByteArray(it) }
            ?: java.net.http.HttpRequest.BodyPublishers.noBody()
        val builder = java.net.http.HttpRequest.newBuilder(URI(request.url))
            .timeout(Duration.ofMillis(request.timeoutMs))
            .method(request.method, body)
        for ((k, v) in request.headers) {
            if (k.lowercase() !in RESTRICTED) builder.header(k, v)
        }
        val pending = client.sendAsync(builder.build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray())
        val r = try {
            pending.get(request.timeoutMs, TimeUnit.MILLISECONDS)
        } catch (e: java.util.concurrent.TimeoutException) {
            pending.cancel(true)
            throw HttpTimeoutException("the call's deadline (${request.timeoutMs} ms) passed")
        } catch (e: InterruptedException) {
            pending.cancel(true)
            throw e
        } catch (e: java.util.concurrent.ExecutionException) {
            throw e.cause ?: e
        }
        return HttpResponse(r.statusCode(), r.headers().map().mapValues { it.value.joinToString(",") }, r.body())
    }

    private companion object {
        val RESTRICTED = setOf("host", "content-length", "connection", "expect", "upgrade")
    }
}

/** Maps a JVM transport failure to the engine's kinds. */
fun transportKind(e: Throwable): String {
    // The JDK client wraps a DNS failure as ConnectException(ConnectException(UnresolvedAddressException)).
    val chain = generateSequence(e) { it.cause }.take(8).toList()
    return when {
        chain.any { it is UnknownHostException || it is java.nio.channels.UnresolvedAddressException } -> "dns"
        e is HttpTimeoutException || e is SocketTimeoutException -> "timeout"
        e is ConnectException || e is NoRouteToHostException -> "connect"
        chain.any { it is SSLException } -> "tls"
        else -> "reset"
    }
}

/**
 * The config with 32 fresh bytes from the OS generator as the engine's
 * `entropy` (the core reads no randomness of its own; API security's IVs
 * come from it), replacing any value in the config: processes sharing one
 * config file must never share IVs. Text that is not a JSON object goes
 * through as it is, for the engine to name what is wrong with it.
 */
internal fun withEntropy(config: String): String {
    val parsed = runCatching { Json.parseToJsonElement(config) }.getOrNull() as? JsonObject ?: return config
    val seed = ByteArray(32).also { java.security.SecureRandom().nextBytes(it) }
    return JsonObject(parsed + ("entropy" to JsonPrimitive(Base64.getEncoder().encodeToString(seed)))).toString()
}

internal fun JsonObject.str(key: String): String? = (this[key] as? JsonPrimitive)?.contentOrNull

internal fun direct(bytes: ByteArray): ByteBuffer = ByteBuffer.allocateDirect(bytes.size).put(bytes).flip()

/**
 * `Client(configJson).call("oa", "GET", "/cgi-bin/user/info", query = listOf("openid" to "o1"))`
 * returns the parsed JSON reply ([JsonElement]) or, for a binary body, a [ByteArray];
 * failures throw [WxException].
 *
 * One client serves many threads at once: each calling thread runs the loop,
 * taking whatever output is next (its own call's or another's) and performing
 * it outside the lock, so requests of different threads overlap while the
 * engine still sees one token fetch per app.
 */
class Client(
    config: String,
    private val http: Http = JdkHttp(),
    private val store: Store? = null,
    private val now: () -> Long = System::currentTimeMillis,
) : AutoCloseable {
    val engine: NativeEngine = try {
        NativeEngine(withEntropy(config), now().toULong())
    } catch (e: wxcore.ffi.WxException) {
        throw WxException.fromNative(e)
    }
    private val listeners = java.util.concurrent.CopyOnWriteArrayList<(JsonObject) -> Unit>()
    private val done = HashMap<Long, JsonObject>()
    private val queue = ArrayDeque<JsonObject>()
    private var wake: Long? = null
    private var inFlight = 0 // outputs taken from the queue and not yet answered

    // Reentrant: a listener may call the client from inside the loop.
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()

    /** Calls `listener(event)` for each engine event (token fetched, failover, quota warning, …). */
    fun on(listener: (JsonObject) -> Unit) {
        listeners += listener
    }

    /** One API call; `timeoutMs` is its deadline (default: the config's `call_timeout_ms`). */
    fun call(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): Any {
        val reply = callFull(app, method, path, query, json, body, contentType, idempotent, timeoutMs)
        return reply.json ?: reply.bytes ?: ByteArray(0)
    }

    fun callFull(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): Reply {
        val spec = buildString {
            append("{\"app\":").append(JsonPrimitive(app)).append(",\"method\":").append(JsonPrimitive(method))
            append(",\"path\":").append(JsonPrimitive(path)).append(",\"idempotent\":").append(idempotent)
            append(",\"query\":").append(JsonArray(query.map { (k, v) -> JsonArray(listOf(JsonPrimitive(k), JsonPrimitive(v))) }))
            val ct = if (json != null) "application/json" else contentType
            if (ct != null) append(",\"content_type\":").append(JsonPrimitive(ct))
            if (timeoutMs != null) append(",\"timeout_ms\":").append(timeoutMs)
            append('}')
        }.toByteArray()
        val payload = json?.toByteArray() ?: body
        val id = lock.withLock {
            val text = if (payload != null) engine.submitWithBodyPoll(direct(spec), direct(payload), now().toULong())
            else engine.submitPoll(direct(spec), now().toULong())
            val doc = Json.parseToJsonElement(text).jsonObject
            take(doc)
            doc.getValue("call_id").jsonPrimitive.long
        }
        return reply(run(id))
    }

    /** A JS-SDK ticket (`jsapi`, `wx_card`; WeCom `jsapi`, `agent_config`), cached and renewed by the engine. */
    fun ticket(app: String, kind: String = "jsapi"): String {
        val spec = JsonObject(mapOf("app" to JsonPrimitive(app), "ticket" to JsonPrimitive(kind))).toString().toByteArray()
        val id = lock.withLock {
            val doc = Json.parseToJsonElement(engine.submitPoll(direct(spec), now().toULong())).jsonObject
            take(doc)
            doc.getValue("call_id").jsonPrimitive.long
        }
        return reply(run(id)).json!!.jsonObject.getValue("ticket").jsonPrimitive.content
    }

    fun exportState(): String = lock.withLock { engine.exportState() }

    override fun close() = engine.close()

    private fun reply(d: JsonObject): Reply {
        if (d["ok"]?.jsonPrimitive?.booleanOrNull != true) throw WxException.fromOutput(d.getValue("error").jsonObject)
        val headers = (d["headers"] as? JsonArray)?.map { it.jsonArray[0].jsonPrimitive.content to it.jsonArray[1].jsonPrimitive.content } ?: emptyList()
        val status = d.getValue("status").jsonPrimitive.int
        return when {
            "json" in d -> Reply(status, headers, d.getValue("json"), null)
            "body_base64" in d -> Reply(status, headers, null, Base64.getDecoder().decode(d.str("body_base64")))
            else -> Reply(status, headers, null, (d.str("body") ?: "").toByteArray())
        }
    }

    /** Queues an engine answer's outputs (lock held). */
    private fun take(doc: JsonObject) {
        val outputs = doc.getValue("outputs").jsonArray
        outputs.forEach { queue.add(it.jsonObject) }
        wake = (doc["wake_at_ms"] as? JsonPrimitive)?.longOrNull
        if (outputs.isNotEmpty()) changed.signalAll()
    }

    private fun poll(): JsonObject = Json.parseToJsonElement(engine.poll(now().toULong())).jsonObject

    // Outputs arrive with each input, so a plain call is two crossings; poll only when nothing is queued.
    private fun run(callId: Long): JsonObject {
        while (true) {
            val output = lock.withLock {
                var next: JsonObject? = null
                while (next == null) {
                    done.remove(callId)?.let { return it }
                    if (queue.isEmpty() && wake.let { it == null || it <= now() }) take(poll())
                    if (queue.isEmpty()) {
                        val w = wake
                        // Nothing queued, in flight or timed: the engine lost the call (a core bug).
                        if (w == null && inFlight == 0) throw WxException("unknown", "engine idle with the call unfinished", callId = callId)
                        // Another thread performs what this call waits for, or a timer is due later.
                        if (w == null) changed.await() else changed.await(maxOf(0, w - now()), TimeUnit.MILLISECONDS)
                        continue
                    }
                    val o = queue.removeFirst()
                    when {
                        "done" in o -> o.getValue("done").jsonObject.let {
                            done[it.getValue("call_id").jsonPrimitive.long] = it
                            changed.signalAll()
                        }
                        "event" in o -> next = o
                        else -> {
                            inFlight++
                            next = o
                        }
                    }
                }
                next
            }
            if ("event" in output) {
                // Outside the lock: a listener may block, or call the client.
                emit(output.getValue("event").jsonObject)
                continue
            }
            // Outside the lock: other threads' requests overlap with this one.
            var answer: (() -> JsonObject?)? = null
            try {
                answer = if ("send" in output) send(output.getValue("send").jsonObject) else runStore(output.getValue("store").jsonObject)
            } catch (e: Throwable) {
                // An Error (or anything else) escaping the transport or store: the engine
                // is told the output failed before it propagates, so nothing is left unanswered.
                answer = failed(output, e)
                throw e
            } finally {
                // The engine's answer and its outputs under one lock, so a later
                // answer's outputs (and next wake) cannot be overtaken.
                lock.withLock {
                    inFlight--
                    take(answer?.invoke() ?: poll())
                    changed.signalAll()
                }
            }
        }
    }

    /** How to tell the engine an output failed with [e] (run under the lock). */
    private fun failed(output: JsonObject, e: Throwable): () -> JsonObject? {
        output["send"]?.jsonObject?.let { req ->
            val id = req.getValue("id").jsonPrimitive.long.toULong()
            val kind = transportKind(e)
            return { engine.handleTransportError(id, kind, now().toULong()); null }
        }
        val id = output.getValue("store").jsonObject.getValue("id").jsonPrimitive.long.toULong()
        val text = JsonObject(mapOf("error" to JsonPrimitive(e.javaClass.simpleName))).toString().toByteArray()
        return { engine.handleStoreResult(id, direct(text), now().toULong()); null }
    }

    // A listener's exception must not cost the outputs queued after its event.
    private fun emit(event: JsonObject) = listeners.forEach {
        try {
            it(event)
        } catch (e: Exception) {
            System.getLogger("wxcore").log(System.Logger.Level.WARNING, "event listener failed", e)
        }
    }

    /** Performs one request; the engine's answer (outputs), or null after a transport error. */
    /** Performs one request; returns how to tell the engine (run under the lock). */
    private fun send(req: JsonObject): () -> JsonObject? {
        val id = req.getValue("id").jsonPrimitive.long.toULong()
        val body = req.str("body")?.toByteArray() ?: req.str("body_base64")?.let { Base64.getDecoder().decode(it) }
        val headers = req.getValue("headers").jsonObject.mapValues { it.value.jsonPrimitive.content }
        val response: HttpResponse
        val h: ByteArray
        try {
            response = http.send(HttpRequest(req.str("method")!!, req.str("url")!!, headers, body, req.getValue("timeout_ms").jsonPrimitive.long))
            h = JsonObject(response.headers.mapValues { JsonPrimitive(it.value) }).toString().toByteArray()
        } catch (e: Exception) {
            if (e is InterruptedException) Thread.currentThread().interrupt()
            val kind = transportKind(e)
            return { engine.handleTransportError(id, kind, now().toULong()); null }
        }
        return { Json.parseToJsonElement(engine.respondPoll(id, response.status.toUShort(), direct(h), direct(response.body), now().toULong())).jsonObject }
    }

    private fun runStore(op: JsonObject): () -> JsonObject? {
        val result = try {
            (store ?: throw IllegalStateException("the config says \"store\": \"external\" but no store was given to Client")).execute(op)
        } catch (e: Exception) {
            // The class name only: a store's message can carry a connection string.
            JsonObject(mapOf("error" to JsonPrimitive(e.javaClass.simpleName)))
        }
        return { engine.handleStoreResult(op.getValue("id").jsonPrimitive.long.toULong(), direct(result.toString().toByteArray()), now().toULong()); null }
    }
}
