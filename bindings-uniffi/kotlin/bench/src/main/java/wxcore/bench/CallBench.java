package wxcore.bench;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.mp.api.WxMpService;
import me.chanjar.weixin.mp.api.impl.WxMpServiceImpl;
import me.chanjar.weixin.mp.bean.result.WxMpUser;
import me.chanjar.weixin.mp.config.impl.WxMpDefaultConfigImpl;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import wxcore.Client;
import wxcore.HttpResponse;

/**
 * One {@code GET /cgi-bin/user/info} with a cached token and the same ~1 KB
 * JSON reply, parsed into each library's result, over an in-process HTTP
 * stub on each side. Each side fetches its token once, through its stub,
 * during setup; the benchmark checks that no further token request is made.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class CallBench {

    static final String CONFIG = "{\"apps\":[{\"id\":\"oa\",\"platform\":\"wechat-oa\",\"app_id\":\"wx123\",\"secret\":\"s\"}],"
            + "\"quota\":{\"mode\":\"off\"}}";
    static final Map<String, String> HEADERS = Map.of("content-type", "application/json");

    @State(Scope.Benchmark)
    public static class Wxcore {
        Client client;
        List<kotlin.Pair<String, String>> query;
        final AtomicLong tokenRequests = new AtomicLong();
        final AtomicLong requests = new AtomicLong();

        @Setup(Level.Trial)
        public void setup() {
            // wxcore.Http is a Kotlin fun interface: a Java lambda. The response
            // object is new per call, the body bytes shared (as WxJava's stub).
            client = new Client(CONFIG, request -> {
                requests.incrementAndGet();
                if (Canned.isToken(request.getUrl())) tokenRequests.incrementAndGet();
                return new HttpResponse(200, HEADERS, Canned.replyFor(request.getUrl()));
            });
            query = List.of(new kotlin.Pair<>("openid", Canned.OPENID));
            Object first = client.call("oa", "GET", "/cgi-bin/user/info", query); // fetches the token
            if (!String.valueOf(first).contains("\"nickname\":\"Band\"")) throw new IllegalStateException("wxcore reply: " + first);
            if (tokenRequests.get() != 1) throw new IllegalStateException("wxcore token requests in setup: " + tokenRequests.get());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (tokenRequests.get() != 1) throw new IllegalStateException("wxcore fetched its token again: " + tokenRequests.get());
            client.close();
        }
    }

    @State(Scope.Benchmark)
    public static class WxJava {
        WxMpService service;
        StubApacheHttpClient http;

        @Setup(Level.Trial)
        public void setup() throws WxErrorException {
            StubApacheHttpClient.Builder builder = new StubApacheHttpClient.Builder();
            http = builder.client;
            WxMpDefaultConfigImpl config = new WxMpDefaultConfigImpl();
            config.setAppId("wx123");
            config.setSecret("s");
            config.setApacheHttpClientBuilder(builder);
            service = new WxMpServiceImpl();
            service.setWxMpConfigStorage(config); // initHttp(): builder.build() is the stub
            WxMpUser first = service.getUserService().userInfo(Canned.OPENID); // fetches the token
            if (!"Band".equals(first.getNickname()) || first.getTagIds().length != 2) throw new IllegalStateException("WxJava reply: " + first);
            if (http.tokenRequests.get() != 1) throw new IllegalStateException("WxJava token requests in setup: " + http.tokenRequests.get());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (http.tokenRequests.get() != 1) throw new IllegalStateException("WxJava fetched its token again: " + http.tokenRequests.get());
        }
    }

    /** wxcore: Client.call, the engine's loop over the stub, the reply a JsonElement. */
    @Benchmark
    public Object wxcoreClientCall(Wxcore s) {
        return s.client.call("oa", "GET", "/cgi-bin/user/info", s.query);
    }

    /** WxJava: WxMpUserService.userInfo, Apache HttpClient stubbed, the reply a WxMpUser. */
    @Benchmark
    public Object wxjavaUserInfo(WxJava s) throws WxErrorException {
        return s.service.getUserService().userInfo(Canned.OPENID);
    }
}
