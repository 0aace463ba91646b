// The one exception every entry point throws: a failed call, a refused
// callback, a bad config. Its kind is the core's, shared by every language.
package wxcore

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.longOrNull

/**
 * A failed call. [kind] is typed; [kindName] is the core's string as given
 * (a kind newer than this binding is [Kind.UNKNOWN] with its own [kindName]).
 * [code] is the platform's (Long or String).
 */
class WxException @JvmOverloads constructor(
    val kind: Kind,
    message: String,
    val code: Any? = null,
    val subMessage: String? = null,
    val httpStatus: Int? = null,
    val retryAfterMs: Long? = null,
    val app: String = "",
    val callId: Long = 0,
    val field: String? = null,
    val rawBody: String? = null,
    /** For callback refusals: `bad_signature`, `receive_id_mismatch`, `stale_timestamp`, … */
    val reason: String? = null,
    val kindName: String = kind.wire,
) : RuntimeException(if (message.isEmpty()) kindName else "$kindName: $message") {

    /** The core's error kinds; [wire] is the string every language uses. */
    enum class Kind(val wire: String) {
        TOKEN_INVALID("token_invalid"),
        CREDENTIAL_INVALID("credential_invalid"),
        SECRET_FROZEN("secret_frozen"),
        IP_NOT_WHITELISTED("ip_not_whitelisted"),
        ADMIN_CONFIRMATION_REQUIRED("admin_confirmation_required"),
        IP_BLOCKED("ip_blocked"),
        RATE_LIMITED("rate_limited"),
        QUOTA_EXHAUSTED("quota_exhausted"),
        BUSY("busy"),
        INVALID_REQUEST("invalid_request"),
        PERMISSION_DENIED("permission_denied"),
        NOT_FOLLOWING("not_following"),
        BUSINESS("business"),
        MALFORMED_RESPONSE("malformed_response"),
        TRANSPORT("transport"),
        SIGNATURE_INVALID("signature_invalid"),
        CONFIG("config"),
        UNKNOWN("unknown"),
        TIMEOUT("timeout"),
        CANCELLED("cancelled"),
        TICKET_UNAVAILABLE("ticket_unavailable"),
        NOT_AUTHORIZED("not_authorized"),
        ;

        companion object {
            private val byWire = entries.associateBy { it.wire }

            /** The entry for a core kind string; [UNKNOWN] for one this binding does not know. */
            @JvmStatic
            fun from(wire: String): Kind = byWire[wire] ?: UNKNOWN
        }
    }

    companion object {
        internal fun of(kindName: String, message: String, field: String? = null, reason: String? = null, callId: Long = 0) =
            WxException(Kind.from(kindName), message, field = field, reason = reason, callId = callId, kindName = kindName)

        internal fun fromOutput(e: JsonObject): WxException {
            val code = (e["code"] as? JsonPrimitive)?.let { p -> if (p.isString) p.content else p.longOrNull }
            val kindName = e.str("kind") ?: "unknown"
            return WxException(
                kind = Kind.from(kindName),
                message = e.str("message") ?: "",
                code = code,
                subMessage = e.str("sub_message"),
                httpStatus = (e["http_status"] as? JsonPrimitive)?.longOrNull?.toInt(),
                retryAfterMs = (e["retry_after_ms"] as? JsonPrimitive)?.longOrNull,
                app = e.str("app") ?: "",
                callId = (e["call_id"] as? JsonPrimitive)?.longOrNull ?: 0,
                rawBody = e.str("raw_body"),
                kindName = kindName,
            )
        }

        internal fun fromNative(e: wxcore.ffi.WxException): WxException = when (e) {
            is wxcore.ffi.WxException.Config -> of("config", e.`detail`, field = e.`field`)
            is wxcore.ffi.WxException.Callback -> of(e.`kind`, e.`detail`, reason = e.`reason`)
        }
    }
}

/** The stable kind names shared by every language (from the core). */
val KINDS: List<String> by lazy { wxcore.ffi.errorKinds() }
