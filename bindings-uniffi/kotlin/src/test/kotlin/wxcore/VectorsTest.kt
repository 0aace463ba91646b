// The conformance scenarios of tests/vectors/*.json, run through the Kotlin
// binding exactly as the Rust, Python and Node runners run them.
package wxcore

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.longOrNull
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.io.File
import java.util.Base64
import wxcore.ffi.Engine as NativeEngine

class VectorsTest {
    private val dir = File(System.getProperty("wxcore.vectors") ?: "../../tests/vectors")

    private fun scenarios(): List<Pair<String, JsonObject>> =
        dir.listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }.flatMap { f ->
            val doc = Json.parseToJsonElement(f.readText()).jsonObject
            (doc["scenarios"] as? JsonArray ?: JsonArray(emptyList())).map { f.name to it.jsonObject }
        }

    private fun matches(expected: JsonElement, actual: JsonElement?): Boolean {
        if (expected is JsonObject) {
            if (actual !is JsonObject) return false
            return expected.all { (k, v) ->
                when {
                    k == "json" && "json" in actual -> actual["json"] == v
                    k == "json" || k == "value_json" -> {
                        val text = (actual[if (k == "json") "body" else "value"] as? JsonPrimitive)?.content
                        text != null && runCatching { Json.parseToJsonElement(text) == v }.getOrDefault(false)
                    }
                    k !in actual -> v is JsonNull
                    else -> matches(v, actual[k])
                }
            }
        }
        return expected == actual
    }

    private fun bytes(s: String) = direct(s.toByteArray())

    /** Each sample line split at its last space: the series as written, the value as text (`+Inf`, `1e-3` compare as written). */
    private fun samples(text: String): JsonObject = JsonObject(
        text.lineSequence().filter { it.isNotEmpty() && !it.startsWith("#") }.associate { line ->
            val at = line.lastIndexOf(' ')
            check(at > 0) { "a sample line without a value: $line" }
            line.substring(0, at) to JsonPrimitive(line.substring(at + 1))
        },
    )

    private fun run(s: JsonObject): List<JsonElement> {
        val config = s.getValue("config").toString()
        val steps = s.getValue("steps").jsonArray.map { it.jsonObject }
        val recorded = mutableListOf<JsonElement>()
        fun configError(e: wxcore.ffi.WxException) = when (e) {
            is wxcore.ffi.WxException.Config -> JsonObject(mapOf("config_error" to JsonObject(mapOf("field" to JsonPrimitive(e.`field`)))))
            is wxcore.ffi.WxException.Callback -> error("a callback error from the engine: $e")
        }
        var engine = try {
            NativeEngine(config, (steps.firstOrNull()?.getValue("now_ms")?.jsonPrimitive?.long ?: 0L).toULong())
        } catch (e: wxcore.ffi.WxException) {
            return listOf(configError(e))
        }
        val done = HashSet<Long>()
        for (step in steps) {
            val now = step.getValue("now_ms").jsonPrimitive.long.toULong()
            val (kind, v) = step.getValue("input").jsonObject.entries.first().let { it.key to it.value.jsonObject }
            when (kind) {
                "submit" -> {
                    val spec = JsonObject(v.filterKeys { it in setOf("app", "method", "path", "query", "idempotent", "content_type", "ticket", "timeout_ms") })
                    when {
                        "json" in v -> engine.submitWithBody(bytes(spec.toString()), bytes(v.getValue("json").toString()), now)
                        "body" in v -> {
                            val withCt = if ("content_type" in spec) spec else JsonObject(spec + ("content_type" to JsonPrimitive("application/octet-stream")))
                            engine.submitWithBody(bytes(withCt.toString()), bytes(v.getValue("body").jsonPrimitive.content), now)
                        }
                        else -> engine.submit(bytes(spec.toString()), now)
                    }
                }
                "response" -> {
                    val headers = (v["headers"] as? JsonObject ?: JsonObject(emptyMap())).toMutableMap()
                    val body = when {
                        "json" in v -> {
                            if (headers.keys.none { it.equals("content-type", true) }) headers["content-type"] = JsonPrimitive("application/json")
                            v.getValue("json").toString().toByteArray()
                        }
                        "body_base64" in v -> Base64.getDecoder().decode(v.getValue("body_base64").jsonPrimitive.content)
                        else -> (v["body"]?.jsonPrimitive?.content ?: "").toByteArray()
                    }
                    val status = (v["status"] as? JsonPrimitive)?.longOrNull ?: 200L
                    engine.handleResponse(v.getValue("id").jsonPrimitive.long.toULong(), status.toInt().toUShort(),
                        bytes(JsonObject(headers).toString()), direct(body), now)
                }
                "transport_error" -> engine.handleTransportError(v.getValue("id").jsonPrimitive.long.toULong(), v.getValue("kind").jsonPrimitive.content, now)
                "store_result" -> engine.handleStoreResult(v.getValue("id").jsonPrimitive.long.toULong(), bytes(JsonObject(v - "id").toString()), now)
                "restart", "restore" -> {
                    val state = if (kind == "restart") engine.exportState() else v.getValue("state").toString()
                    try {
                        engine = NativeEngine.restore(config, state, now)
                        done.clear()
                    } catch (e: wxcore.ffi.WxException) {
                        recorded.add(configError(e))
                    }
                }
                "cancel" -> engine.cancel(v.getValue("id").jsonPrimitive.long.toULong(), now)
                // Recorded before the step's drain, like a snapshot.
                "push" -> recorded.add(
                    try {
                        val out = engine.handlePush(
                            v.getValue("app").jsonPrimitive.content, v.getValue("method").jsonPrimitive.content,
                            bytes(v.getValue("query").toString()), bytes(v.getValue("body").jsonPrimitive.content), now,
                        )
                        JsonObject(mapOf("push" to Json.parseToJsonElement(out)))
                    } catch (e: wxcore.ffi.WxException.Callback) {
                        JsonObject(mapOf("push_error" to JsonObject(mapOf("kind" to JsonPrimitive(e.`kind`), "reason" to JsonPrimitive(e.`reason`)))))
                    },
                )
                // Recorded before the step's drain, as every runner does: a snapshot is taken, not an input fed.
                "status" -> recorded.add(JsonObject(mapOf("status" to Json.parseToJsonElement(engine.statusJson(now)))))
                "metrics" -> recorded.add(JsonObject(mapOf("metrics" to JsonObject(mapOf("samples" to samples(engine.metricsText(now)))))))
                "poll" -> {}
                else -> error("unknown input $kind")
            }
            val polled = Json.parseToJsonElement(engine.poll(now)).jsonObject
            for (o in polled.getValue("outputs").jsonArray) {
                val d = o.jsonObject["done"] as? JsonObject ?: continue
                assertTrue(done.add(d.getValue("call_id").jsonPrimitive.long), "a call completed twice")
            }
            recorded.addAll(polled.getValue("outputs").jsonArray)
            recorded.add(JsonObject(mapOf("idle" to JsonObject(mapOf("wake_at_ms" to polled.getValue("wake_at_ms"))))))
        }
        return recorded
    }

    @Test
    fun thereAreScenariosForEveryPlatform() {
        val all = scenarios()
        val platforms = all.flatMap { (_, s) -> s.getValue("config").jsonObject.getValue("apps").jsonArray.map { it.jsonObject.getValue("platform").jsonPrimitive.content } }.toSet()
        assertTrue(all.size >= 60)
        assertTrue(platforms.containsAll(listOf("wechat-oa", "wecom", "jing", "cj", "result", "wechat-component", "wecom-suite")))
    }

    @TestFactory
    fun vectors(): List<DynamicTest> = scenarios().map { (file, s) ->
        DynamicTest.dynamicTest("$file::${s.getValue("name").jsonPrimitive.content}") {
            val got = run(s)
            val expect = s.getValue("expect").jsonArray
            expect.forEachIndexed { i, e ->
                assertTrue(i < got.size, "output $i missing: expected $e")
                assertTrue(matches(e, got[i]), "output $i differs\n expected: $e\n actual:   ${got[i]}\n all: $got")
            }
            assertEquals(expect.size, got.size, "extra outputs: ${got.drop(expect.size)}")
        }
    }
}
