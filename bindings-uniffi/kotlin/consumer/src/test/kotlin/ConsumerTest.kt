// A user's first call: the wxcore jar alone, its native library loaded from
// the jar by JNA, against the local simulator over HTTP.
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.TimeUnit

class ConsumerTest {
    @Test
    fun `the artifact alone makes a call`() {
        // Nothing points JNA at the repository's build: the library must come from the jar.
        assertNull(System.getProperty("jna.library.path"))
        val jar = wxcore.Client::class.java.protectionDomain.codeSource.location.path
        assertTrue(jar.endsWith(".jar") && ".m2" in jar, "wxcore loaded from $jar, not the installed artifact")
        val sim = ProcessBuilder(System.getProperty("wxsim"), "--watch-stdin").redirectError(ProcessBuilder.Redirect.INHERIT).start()
        try {
            val addrs = sim.inputStream.bufferedReader().readLine()
            val primary = Regex("\"primary\":\"([^\"]+)\"").find(addrs)!!.groupValues[1]
            val config = """{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wx-consumer","secret":"s","hosts":["$primary"]}]}"""
            wxcore.Client(config).use { client ->
                val reply = client.call("oa", "GET", "/cgi-bin/user/info", listOf("openid" to "o-consumer")).toString()
                assertTrue("\"openid\":\"o-consumer\"" in reply, reply)
            }
        } finally {
            sim.destroy()
            sim.waitFor(5, TimeUnit.SECONDS)
        }
    }
}
