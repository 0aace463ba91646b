// The java.net.http transport, for JVM hosts that prefer it (HTTP/2, its own
// pool). Kept in its own file: Android has no java.net.http, and nothing else
// in the driver may reference it.
package wxcore

import java.net.SocketTimeoutException
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpConnectTimeoutException
import java.net.http.HttpTimeoutException
import java.time.Duration
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException

/**
 * `java.net.http.HttpClient`, redirects never followed (a 3xx is the API's
 * answer), and the request's timeout a total deadline: the JDK's own request
 * timeout ends at the response headers, so a body trickling in byte by byte
 * is cut off here. Timeouts surface as `SocketTimeoutException` (a connect's
 * as [ConnectTimeoutException]), like [UrlConnectionHttp]'s.
 */
class JdkHttp @JvmOverloads constructor(
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
        } catch (e: TimeoutException) {
            pending.cancel(true)
            throw SocketTimeoutException("the request's deadline (${request.timeoutMs} ms) passed")
        } catch (e: InterruptedException) {
            pending.cancel(true)
            throw e
        } catch (e: ExecutionException) {
            val cause = e.cause ?: e
            throw when (cause) {
                is HttpConnectTimeoutException -> ConnectTimeoutException(cause.message, cause)
                is HttpTimeoutException -> SocketTimeoutException(cause.message).apply { initCause(cause) }
                else -> cause
            }
        }
        return HttpResponse(r.statusCode(), r.headers().map().entries.associate { it.key.lowercase() to it.value.joinToString(", ") }, r.body())
    }

    private companion object {
        val RESTRICTED = setOf("host", "content-length", "connection", "expect", "upgrade")
    }
}
