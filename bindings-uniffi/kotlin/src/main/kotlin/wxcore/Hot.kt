// The Kotlin side of lib.rs's hot path (`wxcore_hot_*`): the frame it reads is described there.
package wxcore

import com.sun.jna.Native
import com.sun.jna.Pointer
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** lib.rs's `wxcore_hot_*`, JNA direct mapping, integers only: no Structure per call. */
internal object HotLib {
    init {
        Native.register(HotLib::class.java, System.getProperty("uniffi.component.wxcore_ffi.libraryOverride") ?: "wxcore_ffi")
    }
    external fun wxcore_hot_submit(handle: Long, spec: Long, specLen: Int, body: Long, bodyLen: Int, nowMs: Long, out: Long, outCap: Int): Long
    external fun wxcore_hot_respond(handle: Long, requestId: Long, status: Int, headers: Long, headersLen: Int, body: Long, bodyLen: Int, nowMs: Long, out: Long, outCap: Int): Long
    external fun wxcore_hot_poll(handle: Long, nowMs: Long, out: Long, outCap: Int): Long
    external fun wxcore_hot_free(addr: Long, len: Long)
    external fun wxcore_hot_release(handle: Long)
}

internal sealed class Out
internal class SendOut(val id: Long, val request: HttpRequest) : Out()
internal class DoneOut(val callId: Long, val reply: Reply?, val error: JsonObject?) : Out()
internal class JsonOut(val doc: JsonObject) : Out() // event, store op, or a failed done: the canonical JSON

internal class Frame(val callId: Long, val wake: Long?, val outputs: List<Out>)

/** One client's hot path; every method runs under the client's lock. */
internal class HotEngine(native: wxcore.ffi.Engine) {
    @Volatile private var handle: Long = native.hotHandle().toLong()
    private var input = alloc(8 * 1024)
    private var inputAddr = addr(input)
    private var out = alloc(16 * 1024)
    private var outAddr = addr(out)
    private var scratch = ByteArray(16 * 1024)
    // Releases the handle if the client is never closed (uniffi's cleaner works on Android too).
    private val cleanable = wxcore.ffi.UniffiLib.CLEANER.register(this, Release(handle))

    private class Release(private val handle: Long) : Runnable {
        override fun run() = HotLib.wxcore_hot_release(handle)
    }

    fun release() {
        handle = 0
        cleanable.clean()
    }

    private fun live(): Long = handle.also { check(it != 0L) { "the client is closed" } }

    fun submit(spec: ByteArray, body: ByteArray?, now: Long): Frame {
        val buf = fill(spec.size + (body?.size ?: 0)) { it.put(spec); if (body != null) it.put(body) }
        val a = if (buf === input) inputAddr else addr(buf)
        return frame(HotLib.wxcore_hot_submit(live(), a, spec.size, a + spec.size, body?.size ?: -1, now, outAddr, out.capacity()))
    }

    fun respond(id: Long, status: Int, headers: Map<String, String>, body: ByteArray, now: Long): Frame {
        val h = ArrayList<ByteArray>(headers.size * 2)
        headers.forEach { (k, v) -> h += k.toByteArray(); h += v.toByteArray() }
        val headersLen = 4 + h.sumOf { 4 + it.size }
        val buf = fill(headersLen + body.size) { b ->
            b.putInt(headers.size)
            h.forEach { b.putInt(it.size); b.put(it) }
            b.put(body)
        }
        val a = if (buf === input) inputAddr else addr(buf)
        return frame(HotLib.wxcore_hot_respond(live(), id, status, a, headersLen, a + headersLen, body.size, now, outAddr, out.capacity()))
    }

    fun poll(now: Long): Frame = frame(HotLib.wxcore_hot_poll(live(), now, outAddr, out.capacity()))

    // The input in the kept buffer, or (over 1 MiB) in one for this call alone.
    private inline fun fill(size: Int, write: (ByteBuffer) -> Unit): ByteBuffer {
        if (size > input.capacity() && size <= KEEP) { input = alloc(maxOf(size, input.capacity() * 2)); inputAddr = addr(input) }
        val b = if (size <= input.capacity()) input else alloc(size)
        (b as java.nio.Buffer).clear()
        write(b)
        return b
    }

    private fun frame(ret: Long): Frame {
        // Reading a volatile field of this after the call keeps this (and the handle's owner) reachable through it.
        if (handle == 0L && ret == Long.MIN_VALUE + 1) throw IllegalStateException("the client is closed")
        if (ret == Long.MIN_VALUE) throw WxException(WxException.Kind.UNKNOWN, "the engine panicked")
        if (ret == Long.MIN_VALUE + 1) throw IllegalStateException("hot path refused its arguments")
        val bytes: ByteArray
        if (ret >= 0) {
            val len = ret.toInt()
            if (scratch.size < len) scratch = ByteArray(len)
            (out as java.nio.Buffer).position(0)
            out.get(scratch, 0, len)
            bytes = scratch
        } else {
            val len = -ret
            val a = out.getLong(0)
            bytes = Pointer(a).getByteArray(0, len.toInt())
            HotLib.wxcore_hot_free(a, len)
            if (len <= KEEP) { out = alloc(len.toInt()); outAddr = addr(out) }
        }
        return decode(bytes)
    }

    private fun decode(b: ByteArray): Frame {
        var p = 0
        fun u32(): Int { val v = (b[p].toInt() and 0xff) or ((b[p + 1].toInt() and 0xff) shl 8) or ((b[p + 2].toInt() and 0xff) shl 16) or ((b[p + 3].toInt() and 0xff) shl 24); p += 4; return v }
        fun u64(): Long { val lo = u32().toLong() and 0xffffffffL; val hi = u32().toLong(); return (hi shl 32) or lo }
        fun bytes(): ByteArray { val n = u32(); return b.copyOfRange(p, p + n).also { p += n } }
        fun str(): String { val n = u32(); return String(b, p, n, Charsets.UTF_8).also { p += n } }
        fun headers(): List<Pair<String, String>> = List(u32()) { str() to str() }
        val callId = u64()
        val wake = u64().takeIf { it >= 0 }
        val outputs = List(u32()) {
            when (b[p++].toInt()) {
                1 -> {
                    val id = u64(); val timeout = u64(); val method = str(); val url = str()
                    val headers = headers().toMap()
                    SendOut(id, HttpRequest(method, url, headers, bytes(), timeout))
                }
                2 -> {
                    val callId2 = u64(); val status = u32(); val kind = b[p++].toInt(); val headers = headers()
                    if (kind == 0) DoneOut(callId2, Reply(status, headers, Json.parseToJsonElement(str()), null), null)
                    else DoneOut(callId2, Reply(status, headers, null, bytes()), null)
                }
                else -> Json.parseToJsonElement(str()).jsonObject.let { doc ->
                    val d = doc["done"]?.jsonObject
                    if (d != null) DoneOut(d.getValue("call_id").jsonPrimitive.long, null, d) else JsonOut(doc)
                }
            }
        }
        return Frame(callId, wake, outputs)
    }

    private companion object {
        const val KEEP = 1 shl 20
        fun alloc(n: Int): ByteBuffer = ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN)
        fun addr(b: ByteBuffer): Long = Pointer.nativeValue(Native.getDirectBufferPointer(b))
    }
}
