package wxcore.bench;

import java.nio.charset.StandardCharsets;

/** The replies both stubs give: the same bytes, the same ~1 KB user/info JSON as the Python and Node benchmarks. */
final class Canned {
    private Canned() {}

    static final byte[] TOKEN = "{\"access_token\":\"TOKEN\",\"expires_in\":7200}".getBytes(StandardCharsets.UTF_8);

    static final byte[] USER_INFO = ("{\"subscribe\":1,\"openid\":\"o6_bmjrPTlm6_2sgVt7hMZOPfL2M\",\"nickname\":\"Band\",\"sex\":1,"
            + "\"language\":\"zh_CN\",\"city\":\"Guangzhou\",\"province\":\"Guangdong\",\"country\":\"China\","
            + "\"headimgurl\":\"http://thirdwx.qlogo.cn/mmopen/x/0\",\"tagid_list\":[128,2],\"remark\":\"\","
            + "\"subscribe_scene\":\"ADD_SCENE_QR_CODE\",\"pad\":\"" + "x".repeat(600) + "\"}").getBytes(StandardCharsets.UTF_8);

    /** The token endpoints, classic and stable. */
    static boolean isToken(String url) {
        return url.contains("/cgi-bin/stable_token") || url.contains("/cgi-bin/token");
    }

    static byte[] replyFor(String url) {
        return isToken(url) ? TOKEN : USER_INFO;
    }

    static final String OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M";
}
