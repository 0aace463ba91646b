// One worker process for the multi-process tests (tests/fleet, tests/server),
// speaking the same job protocol as worker.py and worker.mjs: a JSON job as
// the only argument, `{"ready": name}` once started, a JSON summary at the end.
package wxcore

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import redis.clients.jedis.JedisPooled
import kotlin.concurrent.thread

fun main(args: Array<String>) {
    val job = Json.parseToJsonElement(args.single()).jsonObject
    val name = job.getValue("name").jsonPrimitive.content
    val external = job["store"]?.jsonPrimitive?.content != "memory"
    val config = JsonObject(
        job.getValue("config").jsonObject + mapOf(
            "store" to JsonPrimitive(if (external) "external" else "memory"),
            "instance_id" to JsonPrimitive(name),
        ),
    )
    val store = if (external) RedisStore(JedisPooled("127.0.0.1", job.getValue("redis_port").jsonPrimitive.int)) else null
    val client = Client(config.toString(), store = store)
    val errors = sortedMapOf<String, Int>()
    val events = sortedMapOf<String, Int>()
    var submitted = 0
    var ok = 0
    val lock = Any()
    client.on { e ->
        val type = e.str("type") ?: "?"
        val key = e.str("source")?.let { "$type:$it" } ?: type
        synchronized(lock) { events[key] = (events[key] ?: 0) + 1 }
    }
    val deadline = System.nanoTime() + job.getValue("duration_ms").jsonPrimitive.long * 1_000_000
    val interval = job.getValue("interval_ms").jsonPrimitive.long
    val path = job.getValue("path").jsonPrimitive.content
    println(JsonObject(mapOf("ready" to JsonPrimitive(name))))
    System.out.flush()
    val threads = (0 until job.getValue("concurrency").jsonPrimitive.int).map { i ->
        thread {
            while (System.nanoTime() < deadline) {
                synchronized(lock) { submitted++ }
                try {
                    client.call("oa", "GET", path, query = listOf("openid" to "$name-$i"))
                    synchronized(lock) { ok++ }
                } catch (e: WxException) {
                    synchronized(lock) { errors[e.kindName] = (errors[e.kindName] ?: 0) + 1 }
                } catch (e: Exception) {
                    synchronized(lock) { errors[e.javaClass.simpleName] = (errors[e.javaClass.simpleName] ?: 0) + 1 }
                }
                if (interval > 0) Thread.sleep(interval)
            }
        }
    }
    threads.forEach { it.join() }
    client.close()
    fun counts(m: Map<String, Int>) = JsonObject(m.mapValues { JsonPrimitive(it.value) })
    println(
        JsonObject(
            mapOf(
                "name" to JsonPrimitive(name), "submitted" to JsonPrimitive(submitted), "ok" to JsonPrimitive(ok),
                "errors" to counts(errors), "events" to counts(events),
            ),
        ),
    )
}
