// The Kotlin driver: runs the wxcore engine's loop over a blocking HTTP
// transport. Every decision (tokens, retries, quotas, failover) is the
// engine's; this file only executes its outputs and feeds results back.
// Only APIs Android (API 26) has: see Http.kt.
package wxcore

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.suspendCancellableCoroutine
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
import kotlinx.serialization.serializer
import org.slf4j.Logger
import org.slf4j.LoggerFactory
import java.nio.ByteBuffer
import java.util.Base64
import java.util.concurrent.Executor
import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock
import wxcore.ffi.Engine as NativeEngine

/** Fleet mode: runs the engine's store operations (get, set, lock, unlock, incr_by) against a shared store. */
fun interface Store {
    fun execute(op: JsonObject): JsonObject
}

/** The full answer of a successful call: `json` for a JSON body, `bytes` otherwise. */
class Reply(val status: Int, val headers: List<Pair<String, String>>, val json: JsonElement?, val bytes: ByteArray?)

/** How [Client.callAs] decodes replies: the platforms add fields over time. */
@PublishedApi
internal val replyJson = Json { ignoreUnknownKeys = true }

// Lazily: SLF4J looks for its binding (and reports a missing one) when
// first asked for a logger; a client that never sees an event never asks.
private val log: Logger by lazy { LoggerFactory.getLogger("wxcore") }

/**
 * Logs [event] at the level the core decided, so every language logs the
 * same event at the same level; an event without one (an older core) is
 * info. The message is built only when the level is on: debug events come
 * with every retry, and most hosts log none. The per-level calls rather
 * than SLF4J 2's fluent API: they also work where an app pins slf4j-api 1.7.
 */
internal fun logEvent(logger: Logger, event: JsonObject) {
    when (event.str("level")) {
        "debug" -> if (logger.isDebugEnabled) logger.debug(describe(event))
        "warn" -> if (logger.isWarnEnabled) logger.warn(describe(event))
        "error" -> if (logger.isErrorEnabled) logger.error(describe(event))
        else -> if (logger.isInfoEnabled) logger.info(describe(event))
    }
}

/**
 * The line the core wrote for [event] (`token_fetched app=oa … source=http`,
 * the same in every language, never a token or secret), or its type.
 */
internal fun describe(event: JsonObject): String = event.str("text") ?: event.str("type") ?: "event"

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

/** Appends [s] as a JSON string (what `JsonPrimitive(s).toString()` writes, without the objects). */
internal fun StringBuilder.jsonString(s: String): StringBuilder {
    append('"')
    for (c in s) {
        when {
            c == '"' -> append("\\\"")
            c == '\\' -> append("\\\\")
            c < ' ' -> append("\\u00").append("0123456789abcdef"[c.code shr 4]).append("0123456789abcdef"[c.code and 15])
            else -> append(c)
        }
    }
    return append('"')
}

// Through Buffer: ByteBuffer.flip() returning ByteBuffer is Java 9+, absent on older Android.
internal fun direct(bytes: ByteArray): ByteBuffer =
    ByteBuffer.allocateDirect(bytes.size).put(bytes).also { (it as java.nio.Buffer).flip() }

/**
 * `Client(config).call("oa", "GET", "/cgi-bin/user/info", query = listOf("openid" to "o1"))`
 * returns the JSON reply; [callAs] decodes it, [callBytes] and [callFull] give
 * binary bodies and headers; failures throw [WxException]. Each has a suspending
 * twin (`callAsync`, …) whose cancellation withdraws the call from the engine.
 *
 * One client serves many threads at once: each calling thread runs the loop,
 * taking whatever output is next (its own call's or another's) and performing
 * it outside the lock, so requests of different threads overlap while the
 * engine still sees one token fetch per app.
 */
class Client @JvmOverloads constructor(
    config: String,
    private val http: Http = UrlConnectionHttp(),
    private val store: Store? = null,
    private val now: () -> Long = System::currentTimeMillis,
) : AutoCloseable {
    @JvmOverloads
    constructor(
        config: WxConfig,
        http: Http = UrlConnectionHttp(),
        store: Store? = null,
        now: () -> Long = System::currentTimeMillis,
    ) : this(config.toJson(), http, store, now)

    val engine: NativeEngine = try {
        NativeEngine(withEntropy(config), now().toULong())
    } catch (e: wxcore.ffi.WxException) {
        throw WxException.fromNative(e)
    }
    private val hot = HotEngine(engine) // the engine's hot path (lib.rs), used under [lock]
    private val listeners = java.util.concurrent.CopyOnWriteArrayList<(JsonObject) -> Unit>()
    private val done = HashMap<Long, DoneOut>()
    private val abandoned = HashSet<Long>() // calls whose caller left: their results are dropped
    private val queue = ArrayDeque<Out>()
    private var wake: Long? = null
    private var inFlight = 0 // outputs taken from the queue and not yet answered

    // Reentrant: a listener may call the client from inside the loop.
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()

    /** Where suspending calls run the blocking loop. */
    private val loopExecutor: Executor = Dispatchers.IO.asExecutor()

    /** Calls `listener(event)` for each engine event (token fetched, failover, quota warning, …). */
    fun on(listener: (JsonObject) -> Unit) {
        listeners += listener
    }

    /**
     * One API call, its JSON reply; `timeoutMs` is its deadline (default: the
     * config's `call_timeout_ms`). A reply that is not JSON (a media download)
     * is `malformed_response` here: use [callBytes] or [callFull] for those.
     */
    @JvmOverloads
    fun call(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): JsonElement = jsonOf(callFull(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** [call], its reply decoded as [T] (unknown fields ignored). */
    inline fun <reified T> callAs(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): T = replyJson.decodeFromJsonElement(serializer<T>(), call(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** One API call, its body's bytes (a JSON reply as its text). */
    @JvmOverloads
    fun callBytes(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): ByteArray = bytesOf(callFull(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** One API call, its status, headers and body. */
    @JvmOverloads
    fun callFull(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): Reply = reply(result(submit(app, method, path, query, json, body, contentType, idempotent, timeoutMs)))

    /** [call], suspending; cancelling the coroutine withdraws the call (one not yet sent is never sent). */
    suspend fun callAsync(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): JsonElement = jsonOf(callFullAsync(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** [callAs], suspending. */
    suspend inline fun <reified T> callAsAsync(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): T = replyJson.decodeFromJsonElement(serializer<T>(), callAsync(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** [callBytes], suspending. */
    suspend fun callBytesAsync(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): ByteArray = bytesOf(callFullAsync(app, method, path, query, json, body, contentType, idempotent, timeoutMs))

    /** [callFull], suspending. */
    suspend fun callFullAsync(
        app: String, method: String, path: String, query: List<Pair<String, String>> = emptyList(),
        json: String? = null, body: ByteArray? = null, contentType: String? = null, idempotent: Boolean = false,
        timeoutMs: Long? = null,
    ): Reply = reply(resultAsync(submit(app, method, path, query, json, body, contentType, idempotent, timeoutMs)))

    /** A JS-SDK ticket (`jsapi`, `wx_card`; WeCom `jsapi`, `agent_config`), cached and renewed by the engine. */
    @JvmOverloads
    fun ticket(app: String, kind: String = "jsapi"): String = ticketOf(result(submitTicket(app, kind)))

    suspend fun ticketAsync(app: String, kind: String = "jsapi"): String = ticketOf(resultAsync(submitTicket(app, kind)))

    /** The object a page at [url] passes to `wx.config`, signed with the app's cached ticket. */
    @JvmOverloads
    fun jssdkConfig(app: String, url: String, kind: String = "jsapi"): JsonObject = signed(result(submitTicket(app, kind)), url)

    suspend fun jssdkConfigAsync(app: String, url: String, kind: String = "jsapi"): JsonObject =
        signed(resultAsync(submitTicket(app, kind)), url)

    /**
     * A request to the callback URL of an app whose token needs a pushed
     * ticket (`wechat-component`, `wecom-suite`): the engine verifies it,
     * checks that it names the app and keeps a newer ticket (in fleet mode
     * written to the store before this returns); it never fetches a token by
     * itself. Answer the platform with [Push.reply] at once. Other pushes
     * (authorizations, suite events) come back verified as [Push.message].
     * A refused push throws [WxException] (`reason` says why) and changes nothing.
     */
    fun handlePush(app: String, method: String, query: Map<String, String>, body: ByteArray): Push {
        val text = lock.withLock {
            try {
                engine.handlePush(app, method, direct(JsonObject(query.mapValues { JsonPrimitive(it.value) }).toString().toByteArray()), direct(body), now().toULong())
            } catch (e: wxcore.ffi.WxException) {
                throw WxException.fromNative(e)
            }
        }
        drain()
        return Push.fromJson(Json.parseToJsonElement(text).jsonObject)
    }

    /**
     * The engine's durable state (tokens, counters, blocks, circuits) as JSON.
     * It holds access tokens: store it as you store secrets.
     */
    fun exportState(): String = lock.withLock { engine.exportState() }

    /**
     * The engine's status snapshot now: per app its token (an id derived from
     * it, never the token), last refresh and load; quotas; host circuits;
     * alerts. Field names are the core's, the same in every language; safe
     * to log or serve to operators. [statusTyped] decodes it.
     */
    fun status(): JsonObject =
        // Without the driver's lock: the native engine has its own, and a snapshot queues no output.
        Json.parseToJsonElement(engine.statusJson(now().toULong())).jsonObject

    /** [status] decoded as [Status] (fields a newer core adds are ignored). */
    fun statusTyped(): Status = replyJson.decodeFromJsonElement(Status.serializer(), status())

    /**
     * Prometheus text (exposition format 0.0.4) for a `/metrics` endpoint,
     * rendered by the core: identical in every language, labels never hold
     * a token or a user id.
     */
    fun metrics(): String = engine.metricsText(now().toULong())

    override fun close() {
        lock.withLock { hot.release() }
        engine.close()
    }

    private fun jsonOf(r: Reply): JsonElement = r.json ?: throw WxException(
        WxException.Kind.MALFORMED_RESPONSE,
        "the reply is not JSON (${r.headers.firstOrNull { it.first.equals("content-type", true) }?.second}): use callBytes or callFull",
        httpStatus = r.status,
    )

    private fun bytesOf(r: Reply): ByteArray = r.bytes ?: r.json.toString().toByteArray()

    private fun ticketOf(d: DoneOut): String = reply(d).json!!.jsonObject.getValue("ticket").jsonPrimitive.content

    // The engine's signing (wxcore.jssdkConfig), with the app id the ticket belongs to.
    private fun signed(d: DoneOut, url: String): JsonObject {
        val t = reply(d).json!!.jsonObject
        return wxcore.jssdkConfig(t.getValue("app_id").jsonPrimitive.content, t.getValue("ticket").jsonPrimitive.content, url)
    }

    private fun submit(
        app: String, method: String, path: String, query: List<Pair<String, String>>,
        json: String?, body: ByteArray?, contentType: String?, idempotent: Boolean, timeoutMs: Long?,
    ): Long {
        val spec = buildString {
            append("{\"app\":").jsonString(app).append(",\"method\":").jsonString(method)
            append(",\"path\":").jsonString(path).append(",\"idempotent\":").append(idempotent)
            append(",\"query\":[")
            query.forEachIndexed { i, (k, v) -> if (i > 0) append(','); append('[').jsonString(k).append(',').jsonString(v).append(']') }
            append(']')
            val ct = if (json != null) "application/json" else contentType
            if (ct != null) append(",\"content_type\":").jsonString(ct)
            if (timeoutMs != null) append(",\"timeout_ms\":").append(timeoutMs)
            append('}')
        }.toByteArray()
        val payload = json?.toByteArray() ?: body
        return lock.withLock {
            val frame = hot.submit(spec, payload, now())
            take(frame)
            frame.callId
        }
    }

    private fun submitTicket(app: String, kind: String): Long {
        val spec = JsonObject(mapOf("app" to JsonPrimitive(app), "ticket" to JsonPrimitive(kind))).toString().toByteArray()
        return lock.withLock {
            val frame = hot.submit(spec, null, now())
            take(frame)
            frame.callId
        }
    }

    /** The call's result, running the loop on this thread; a caller leaving (interrupted, an Error) withdraws it. */
    private fun result(callId: Long): DoneOut = try {
        run(callId)
    } catch (e: Throwable) {
        abandon(callId)
        throw e
    }

    /**
     * The call's result, the loop running on [loopExecutor]. Cancellation
     * resumes the caller at once: the loop thread may be performing a request
     * other calls share (a token fetch), so it finishes that, then finds the
     * call completed as `cancelled` and ends.
     */
    private suspend fun resultAsync(callId: Long): DoneOut = suspendCancellableCoroutine { cont ->
        cont.invokeOnCancellation {
            // A cancellation handler must not throw (the client may be closed by now).
            try {
                withdraw(callId)
            } catch (e: Exception) {
                log.warn("withdrawing call {} failed", callId, e)
            }
        }
        loopExecutor.execute { cont.resumeWith(runCatching { run(callId) }) }
    }

    /** Withdraws a call whose result someone still waits for: it completes as `cancelled`. */
    private fun withdraw(callId: Long) = lock.withLock {
        if (callId !in done && engine.cancel(callId.toULong(), now().toULong())) take(poll())
        changed.signalAll()
    }

    /** Withdraws a call nobody waits for any more: its result is dropped. */
    private fun abandon(callId: Long) = lock.withLock {
        if (done.remove(callId) != null) return@withLock
        abandoned += callId
        if (engine.cancel(callId.toULong(), now().toULong())) take(poll())
        changed.signalAll()
    }

    private fun reply(d: DoneOut): Reply = d.reply ?: reply(d.error!!)

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
    private fun take(frame: Frame) {
        queue.addAll(frame.outputs)
        wake = frame.wake
        if (frame.outputs.isNotEmpty()) changed.signalAll()
    }

    private fun poll(): Frame = hot.poll(now())

    // Outputs arrive with each input, so a plain call is two crossings; poll only when nothing is queued.
    private fun run(callId: Long): DoneOut {
        while (true) {
            val output = lock.withLock {
                var next: Out? = null
                while (next == null) {
                    done.remove(callId)?.let { return it }
                    if (queue.isEmpty() && wake.let { it == null || it <= now() }) take(poll())
                    if (queue.isEmpty()) {
                        val w = wake
                        // Nothing queued, in flight or timed: the engine lost the call (a core bug).
                        if (w == null && inFlight == 0) throw WxException(WxException.Kind.UNKNOWN, "engine idle with the call unfinished", callId = callId)
                        // Another thread performs what this call waits for, or a timer is due later.
                        if (w == null) changed.await() else changed.await(maxOf(0, w - now()), TimeUnit.MILLISECONDS)
                        continue
                    }
                    next = pop()
                }
                next
            }
            perform(output)
        }
    }

    /**
     * The next queued output (lock held): a call's result is filed for its
     * caller (null comes back); anything else is the caller's to [perform].
     */
    private fun pop(): Out? {
        val o = queue.removeFirst()
        return when {
            o is DoneOut -> {
                if (!abandoned.remove(o.callId)) {
                    done[o.callId] = o
                    changed.signalAll()
                }
                null
            }
            o is JsonOut && "event" in o.doc -> o
            else -> {
                inFlight++
                o
            }
        }
    }

    /** Performs what the engine queued until nothing is left (a pushed ticket's store write), as any caller would. */
    private fun drain() {
        while (true) {
            val output = lock.withLock {
                if (queue.isEmpty()) take(poll())
                if (queue.isEmpty()) return
                pop()
            } ?: continue
            perform(output)
        }
    }

    /** One output taken from the queue, outside the lock: an event, or a request or store operation answered to the engine. */
    private fun perform(output: Out) {
        if (output is JsonOut && "event" in output.doc) {
            // Outside the lock: a listener may block, or call the client.
            emit(output.doc.getValue("event").jsonObject)
            return
        }
        // Outside the lock: other threads' requests overlap with this one.
        var answer: (() -> Frame?)? = null
        try {
            answer = if (output is SendOut) send(output) else runStore((output as JsonOut).doc.getValue("store").jsonObject)
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

    /** How to tell the engine an output failed with [e] (run under the lock). */
    private fun failed(output: Out, e: Throwable): () -> Frame? {
        if (output is SendOut) {
            val id = output.id.toULong()
            val kind = transportKind(e)
            return { engine.handleTransportError(id, kind, now().toULong()); null }
        }
        val id = (output as JsonOut).doc.getValue("store").jsonObject.getValue("id").jsonPrimitive.long.toULong()
        val text = JsonObject(mapOf("error" to JsonPrimitive(e.javaClass.simpleName))).toString().toByteArray()
        return { engine.handleStoreResult(id, direct(text), now().toULong()); null }
    }

    // A listener's exception must not cost the outputs queued after its event.
    private fun emit(event: JsonObject) {
        logEvent(log, event)
        listeners.forEach {
            try {
                it(event)
            } catch (e: Exception) {
                log.warn("event listener failed", e)
            }
        }
    }

    /** Performs one request; returns how to tell the engine (run under the lock). */
    private fun send(req: SendOut): () -> Frame? {
        val response: HttpResponse
        try {
            response = http.send(req.request)
        } catch (e: Exception) {
            if (e is InterruptedException) Thread.currentThread().interrupt()
            val kind = transportKind(e)
            return { engine.handleTransportError(req.id.toULong(), kind, now().toULong()); null }
        }
        return { hot.respond(req.id, response.status, response.headers, response.body, now()) }
    }

    private fun runStore(op: JsonObject): () -> Frame? {
        val result = try {
            (store ?: throw IllegalStateException("the config says \"store\": \"external\" but no store was given to Client")).execute(op)
        } catch (e: Exception) {
            // The class name only: a store's message can carry a connection string.
            JsonObject(mapOf("error" to JsonPrimitive(e.javaClass.simpleName)))
        }
        return { engine.handleStoreResult(op.getValue("id").jsonPrimitive.long.toULong(), direct(result.toString().toByteArray()), now().toULong()); null }
    }
}
