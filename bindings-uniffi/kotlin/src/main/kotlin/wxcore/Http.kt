// The host's HTTP layer: the request and answer types, the default transport
// and the mapping of transport failures to the engine's kinds. Only APIs
// Android (API 26) has: the same driver runs in a JVM server and in an app.
package wxcore

import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.net.ConnectException
import java.net.HttpURLConnection
import java.net.NoRouteToHostException
import java.net.SocketTimeoutException
import java.net.URI
import java.net.UnknownHostException
import java.nio.channels.UnresolvedAddressException
import javax.net.ssl.SSLException

/** A request for the host's HTTP layer. */
class HttpRequest(val method: String, val url: String, val headers: Map<String, String>, val body: ByteArray?, val timeoutMs: Long)

/** The host's answer; header names lower-case. */
class HttpResponse(val status: Int, val headers: Map<String, String>, val body: ByteArray)

/**
 * What a user plugs in for HTTP. Transport failures throw `IOException`s;
 * a timeout should be a `SocketTimeoutException`, and one while connecting
 * a [ConnectTimeoutException] (see [transportKind]).
 */
fun interface Http {
    fun send(request: HttpRequest): HttpResponse
}

/**
 * A connect that did not finish in time: the host is unreachable or
 * overloaded, not slow to answer. The engine's alerts and metrics keep the
 * two apart (`connect_timeout`, `request_timeout`).
 */
class ConnectTimeoutException(message: String?, cause: Throwable? = null) : SocketTimeoutException(message) {
    init {
        if (cause != null) initCause(cause)
    }
}

/**
 * The default transport, on `HttpURLConnection` (the JDK's, or OkHttp's on
 * Android). Redirects are never followed: a 3xx is the API's answer. The
 * request's timeout is a total deadline: `HttpURLConnection`'s read timeout
 * bounds each read, not the body, so the body is read in chunks against the
 * deadline and a body trickling in is cut off with a `SocketTimeoutException`.
 * A body that stops altogether ends with the read timeout, set to what is
 * left of the deadline when the request starts and again before its answer.
 *
 * `HttpURLConnection` knows GET, POST, PUT, DELETE, HEAD, OPTIONS and TRACE
 * (all the platforms' APIs use); [JdkHttp] takes any method.
 */
class UrlConnectionHttp @JvmOverloads constructor(private val connectTimeoutMs: Int = 5000) : Http {
    override fun send(request: HttpRequest): HttpResponse {
        val deadline = System.nanoTime() + request.timeoutMs * 1_000_000
        fun remainingMs(): Int {
            val ms = (deadline - System.nanoTime()) / 1_000_000
            if (ms <= 0) throw SocketTimeoutException("the request's deadline (${request.timeoutMs} ms) passed")
            return ms.coerceAtMost(Int.MAX_VALUE.toLong()).toInt()
        }
        val c = URI(request.url).toURL().openConnection() as HttpURLConnection
        try {
            c.instanceFollowRedirects = false
            c.useCaches = false
            c.connectTimeout = minOf(connectTimeoutMs, remainingMs())
            c.readTimeout = remainingMs()
            c.requestMethod = request.method
            for ((k, v) in request.headers) {
                if (k.lowercase() !in RESTRICTED) c.setRequestProperty(k, v)
            }
            // doOutput turns a GET into a POST: only methods that carry a body send one.
            val body = request.body?.takeIf { request.method !in NO_BODY }
            if (body != null) {
                c.doOutput = true
                c.setFixedLengthStreamingMode(body.size)
            }
            // Connected on its own so that a timeout here is known to be the
            // connect's: the message differs by platform ("connect timed out"
            // on the JDK, "failed to connect to … after 5000ms" on Android).
            try {
                c.connect()
            } catch (e: SocketTimeoutException) {
                throw ConnectTimeoutException(e.message, e)
            }
            if (body != null) c.outputStream.use { it.write(body) }
            c.readTimeout = remainingMs()
            val status = c.responseCode
            val headers = headersOf(c)
            val stream = if (status >= 400) c.errorStream else c.inputStream
            val bytes = stream?.use { readBefore(it, ::remainingMs) } ?: ByteArray(0)
            return HttpResponse(status, headers, bytes)
        } catch (e: Exception) {
            // The connection is in an unknown state: never back into the pool.
            c.disconnect()
            throw e
        }
    }

    // By index: the JDK's headerFields lists a repeated header's values in reverse.
    private fun headersOf(c: HttpURLConnection): Map<String, String> {
        val headers = LinkedHashMap<String, String>()
        var i = 0
        while (true) {
            val value = c.getHeaderField(i) ?: return headers
            c.getHeaderFieldKey(i)?.lowercase()?.let { k -> headers[k] = headers[k]?.let { "$it, $value" } ?: value }
            i++
        }
    }

    private fun readBefore(stream: InputStream, remainingMs: () -> Int): ByteArray {
        val out = ByteArrayOutputStream()
        val buf = ByteArray(8192)
        while (true) {
            remainingMs()
            val n = stream.read(buf)
            if (n < 0) return out.toByteArray()
            out.write(buf, 0, n)
        }
    }

    private companion object {
        val RESTRICTED = setOf("host", "content-length", "connection", "expect", "upgrade", "transfer-encoding")
        val NO_BODY = setOf("GET", "HEAD")
    }
}

/**
 * Maps a transport failure to the engine's kinds (`dns`, `connect_timeout`,
 * `timeout`, `connect`, `tls`, `reset`). A connect timeout is a
 * [ConnectTimeoutException], the JDK's `HttpConnectTimeoutException`, or a
 * `SocketTimeoutException` saying "connect timed out"; any other timeout is
 * the request's (`timeout`).
 */
fun transportKind(e: Throwable): String {
    // The JDK client wraps a DNS failure as ConnectException(ConnectException(UnresolvedAddressException)).
    val chain = generateSequence(e) { it.cause }.take(8).toList()
    return when {
        chain.any { it is UnknownHostException || it is UnresolvedAddressException } -> "dns"
        chain.any(::isConnectTimeout) -> "connect_timeout"
        e is SocketTimeoutException || isJdkHttpTimeout(e) -> "timeout"
        e is ConnectException || e is NoRouteToHostException -> "connect"
        chain.any { it is SSLException } -> "tls"
        else -> "reset"
    }
}

private fun isConnectTimeout(e: Throwable): Boolean =
    e is ConnectTimeoutException ||
        (e is SocketTimeoutException && e.message?.contains("connect timed out", ignoreCase = true) == true) ||
        isA(e, "java.net.http.HttpConnectTimeoutException")

private fun isJdkHttpTimeout(e: Throwable): Boolean = isA(e, "java.net.http.HttpTimeoutException")

// By name: java.net.http (absent on Android) must not be loaded by shared code.
private fun isA(e: Throwable, className: String): Boolean =
    generateSequence<Class<*>>(e.javaClass) { it.superclass }.any { it.name == className }
