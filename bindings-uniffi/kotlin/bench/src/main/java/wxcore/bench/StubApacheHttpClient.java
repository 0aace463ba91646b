package wxcore.bench;

import java.util.concurrent.atomic.AtomicLong;
import me.chanjar.weixin.common.util.http.apache.ApacheHttpClientBuilder;
import org.apache.http.HttpHost;
import org.apache.http.HttpRequest;
import org.apache.http.HttpVersion;
import org.apache.http.client.HttpRequestRetryHandler;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.conn.ClientConnectionManager;
import org.apache.http.conn.ConnectionKeepAliveStrategy;
import org.apache.http.conn.ssl.SSLConnectionSocketFactory;
import org.apache.http.entity.ByteArrayEntity;
import org.apache.http.entity.ContentType;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.message.BasicHttpResponse;
import org.apache.http.params.BasicHttpParams;
import org.apache.http.params.HttpParams;
import org.apache.http.protocol.HttpContext;

/**
 * WxJava's HTTP stubbed in process: an Apache {@link CloseableHttpClient}
 * whose {@code doExecute} answers from {@link Canned} (no sockets, no
 * connection manager). WxJava's own request executor, response handler
 * ({@code Utf8ResponseHandler}), error check and Gson parsing all run.
 */
final class StubApacheHttpClient extends CloseableHttpClient {
    final AtomicLong tokenRequests = new AtomicLong();
    final AtomicLong requests = new AtomicLong();

    private static final class Response extends BasicHttpResponse implements CloseableHttpResponse {
        Response(byte[] body) {
            super(HttpVersion.HTTP_1_1, 200, "OK");
            setEntity(new ByteArrayEntity(body, ContentType.APPLICATION_JSON));
        }

        @Override
        public void close() {}
    }

    @Override
    protected CloseableHttpResponse doExecute(HttpHost target, HttpRequest request, HttpContext context) {
        String url = request.getRequestLine().getUri();
        requests.incrementAndGet();
        if (Canned.isToken(url)) tokenRequests.incrementAndGet();
        return new Response(Canned.replyFor(url));
    }

    @Override
    public void close() {}

    @Override
    @SuppressWarnings("deprecation")
    public HttpParams getParams() {
        return new BasicHttpParams();
    }

    @Override
    @SuppressWarnings("deprecation")
    public ClientConnectionManager getConnectionManager() {
        throw new UnsupportedOperationException();
    }

    /** What WxJava's config asks for; {@code initHttp} calls {@link #build}. */
    static final class Builder implements ApacheHttpClientBuilder {
        final StubApacheHttpClient client = new StubApacheHttpClient();

        @Override public CloseableHttpClient build() { return client; }
        @Override public ApacheHttpClientBuilder httpProxyHost(String h) { return this; }
        @Override public ApacheHttpClientBuilder httpProxyPort(int p) { return this; }
        @Override public ApacheHttpClientBuilder httpProxyUsername(String u) { return this; }
        @Override public ApacheHttpClientBuilder httpProxyPassword(String p) { return this; }
        @Override public ApacheHttpClientBuilder httpRequestRetryHandler(HttpRequestRetryHandler h) { return this; }
        @Override public ApacheHttpClientBuilder keepAliveStrategy(ConnectionKeepAliveStrategy s) { return this; }
        @Override public ApacheHttpClientBuilder sslConnectionSocketFactory(SSLConnectionSocketFactory f) { return this; }
        @Override public ApacheHttpClientBuilder supportedProtocols(String[] p) { return this; }
    }
}
