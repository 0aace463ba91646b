// Fleet mode over Redis (Jedis): executes the engine's store operations,
// nothing more. Which key, when to lock, how long a lease lasts and what to
// do when Redis fails are the engine's decisions (core/src/store.rs).
package wxcore

import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import redis.clients.jedis.JedisPooled
import redis.clients.jedis.exceptions.JedisNoScriptException
import redis.clients.jedis.params.SetParams
import java.security.MessageDigest

/**
 * `Client(config, store = RedisStore(JedisPooled(host, port)))` with `"store": "external"`.
 * Give the pool short timeouts (`DefaultJedisClientConfig.builder().socketTimeoutMillis(1000)`):
 * an operation that fails fast lets the engine fall back to local behaviour.
 */
class RedisStore(val redis: JedisPooled) : Store {
    override fun execute(op: JsonObject): JsonObject {
        val key = op.getValue("key").jsonPrimitive.content
        fun arg(name: String) = op.getValue(name).jsonPrimitive
        return when (val kind = arg("op").content) {
            "get" -> JsonObject(mapOf("value" to (redis.get(key)?.let(::JsonPrimitive) ?: JsonNull)))
            "set" -> {
                // ttl_ms 0: durable state (an authorizer's refresh token), no expiry.
                val ttl = arg("ttl_ms").long
                if (ttl > 0) redis.set(key, arg("value").content, SetParams().px(ttl)) else redis.set(key, arg("value").content)
                OK
            }
            "lock" -> {
                val got = redis.set(key, arg("owner").content, SetParams().px(arg("ttl_ms").long).nx())
                JsonObject(mapOf("locked" to JsonPrimitive(got == "OK")))
            }
            "unlock" -> {
                script(UNLOCK, listOf(key), listOf(arg("owner").content))
                OK
            }
            "incr_by" -> {
                val n = script(INCR_BY, listOf(key), listOf(arg("delta").content, arg("ttl_ms").content)) as Long
                JsonObject(mapOf("count" to JsonPrimitive(n)))
            }
            else -> throw IllegalArgumentException("unknown store operation $kind")
        }
    }

    /**
     * Runs a script by its SHA-1, so each operation sends 40 bytes instead of the
     * script; Redis forgets scripts when it restarts (NOSCRIPT), so load it then
     * and run it again.
     */
    private fun script(source: Script, keys: List<String>, args: List<String>): Any? = try {
        redis.evalsha(source.sha, keys, args)
    } catch (e: JedisNoScriptException) {
        redis.scriptLoad(source.text)
        redis.evalsha(source.sha, keys, args)
    }

    private class Script(val text: String) {
        val sha: String = MessageDigest.getInstance("SHA-1").digest(text.toByteArray()).joinToString("") { "%02x".format(it) }
    }

    private companion object {
        val OK = JsonObject(mapOf("ok" to JsonPrimitive(true)))

        // Delete the lease only if this process still owns it: a lease that expired
        // and was taken by another process must survive our late unlock.
        val UNLOCK = Script("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end")

        // Count and set the expiry (the next quota reset) in one step, so a crash
        // between the two cannot leave a counter that never resets.
        val INCR_BY = Script("local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return n")
    }
}
