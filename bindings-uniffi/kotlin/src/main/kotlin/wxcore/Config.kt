// The engine's configuration as types. They serialise to the JSON the engine
// takes (README, "Configuration"); an option not modelled here can still be
// given through `Client(configJson)`. Unset (null) options are left out, so
// the engine's defaults apply.
package wxcore

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement

private const val REDACTED = "<redacted>"

// Data classes' own toString would print secrets into logs and error reports.
private fun describe(name: String, vararg fields: Pair<String, Any?>): String =
    fields.filter { it.second != null }.joinToString(", ", "$name(", ")") { "${it.first}=${it.second}" }

private fun redact(secret: String?): String? = secret?.let { REDACTED }

/** The whole configuration: its apps plus the engine-wide settings. */
@Serializable
data class WxConfig @JvmOverloads constructor(
    val apps: List<AppConfig>,
    @SerialName("refresh_margin_ms") val refreshMarginMs: Long? = null,
    @SerialName("refresh_jitter_ms") val refreshJitterMs: Long? = null,
    @SerialName("prefetch_tokens") val prefetchTokens: Boolean? = null,
    /** One request's timeout. */
    @SerialName("timeout_ms") val timeoutMs: Long? = null,
    /** A whole call's deadline (`null` in the JSON, no deadline, only through `Client(configJson)`). */
    @SerialName("call_timeout_ms") val callTimeoutMs: Long? = null,
    @SerialName("store_timeout_ms") val storeTimeoutMs: Long? = null,
    val retry: RetryConfig? = null,
    val failover: FailoverConfig? = null,
    @SerialName("rate_limit") val rateLimit: RateLimitConfig? = null,
    val quota: QuotaConfig? = null,
    val store: StoreMode? = null,
    @SerialName("store_prefix") val storePrefix: String? = null,
    @SerialName("lease_ms") val leaseMs: Long? = null,
    @SerialName("store_poll_ms") val storePollMs: Long? = null,
    @SerialName("instance_id") val instanceId: String? = null,
    /** Seeds backoff jitter only. */
    val seed: Long? = null,
    /** Custom platforms (`"extends": "jing"` …), as JSON. */
    val profiles: Map<String, JsonElement>? = null,
) {
    /** The JSON the engine takes. */
    fun toJson(): String = CONFIG_JSON.encodeToString(serializer(), this)

    companion object {
        private val CONFIG_JSON = Json {
            explicitNulls = false
            encodeDefaults = false
        }

        /** Reads a config written as JSON (`toJson`'s output, or a config file). */
        @JvmStatic
        fun fromJson(json: String): WxConfig = CONFIG_JSON.decodeFromString(serializer(), json)
    }
}

/** One app. Which fields a platform needs: README, "Platforms". */
@Serializable
data class AppConfig @JvmOverloads constructor(
    val id: String,
    val platform: String,
    @SerialName("app_id") val appId: String? = null,
    val secret: String? = null,
    /** Replaces the platform's host list, primary first. */
    val hosts: List<String>? = null,
    /** A single host (the simulator, a proxy). */
    @SerialName("base_url") val baseUrl: String? = null,
    /** The token from a wxcore token server instead of the platform. */
    val credential: CredentialConfig? = null,
    @SerialName("corp_id") val corpId: String? = null,
    @SerialName("agent_id") val agentId: String? = null,
    /** `stable` (default) or `classic`, for wechat-oa. */
    @SerialName("token_endpoint") val tokenEndpoint: String? = null,
    val regions: List<String>? = null,
    @SerialName("token_path") val tokenPath: String? = null,
    @SerialName("refresh_path") val refreshPath: String? = null,
    @SerialName("token_placement") val tokenPlacement: TokenPlacement? = null,
    @SerialName("rate_limit") val rateLimit: RateLimitConfig? = null,
    val quota: QuotaConfig? = null,
    @SerialName("api_security") val apiSecurity: ApiSecurityConfig? = null,
    /** The callback URL's keys, for platforms that push the ticket the token needs (`wechat-component`, `wecom-suite`). */
    val callback: CallbackKeys? = null,
) {
    override fun toString() = describe(
        "AppConfig", "id" to id, "platform" to platform, "appId" to appId, "secret" to redact(secret),
        "hosts" to hosts, "baseUrl" to baseUrl, "credential" to credential, "corpId" to corpId, "agentId" to agentId,
        "tokenEndpoint" to tokenEndpoint, "regions" to regions, "tokenPath" to tokenPath, "refreshPath" to refreshPath,
        "tokenPlacement" to tokenPlacement, "rateLimit" to rateLimit, "quota" to quota, "apiSecurity" to apiSecurity,
        "callback" to callback,
    )
}

/** A callback URL's keys: the console's Token and EncodingAESKey (both secrets, never printed). */
@Serializable
data class CallbackKeys(
    val token: String,
    @SerialName("encoding_aes_key") val encodingAesKey: String,
) {
    override fun toString() = describe("CallbackKeys", "token" to redact(token), "encodingAesKey" to redact(encodingAesKey))
}

@Serializable
enum class CredentialSource {
    /** The token comes from the token server; calls go to the platform. */
    @SerialName("server") SERVER,

    /** Calls go through the token server's relay: no token on this side. */
    @SerialName("relay") RELAY,
}

/** A token server and this caller's key there; [url] lists replicas in order of preference. */
@Serializable
data class CredentialConfig @JvmOverloads constructor(
    val source: CredentialSource,
    val url: List<String>,
    val key: String,
    /** The app's id on the server, when it differs from this app's `id`. */
    val app: String? = null,
) {
    override fun toString() = describe("CredentialConfig", "source" to source, "url" to url, "key" to REDACTED, "app" to app)
}

/** API security material (README, "API security"). */
@Serializable
data class ApiSecurityConfig(
    @SerialName("sym_key") val symKey: String,
    @SerialName("sym_sn") val symSn: String,
    @SerialName("private_key") val privateKey: String,
    @SerialName("platform_keys") val platformKeys: Map<String, String>,
    val paths: List<String>,
) {
    override fun toString() = describe(
        "ApiSecurityConfig", "symKey" to REDACTED, "symSn" to symSn, "privateKey" to REDACTED,
        "platformKeys" to platformKeys.keys, "paths" to paths,
    )
}

@Serializable
data class RetryConfig @JvmOverloads constructor(
    @SerialName("max_attempts") val maxAttempts: Int? = null,
    @SerialName("base_delay_ms") val baseDelayMs: Long? = null,
    @SerialName("max_delay_ms") val maxDelayMs: Long? = null,
    val jitter: Boolean? = null,
    @SerialName("max_rate_limit_retries") val maxRateLimitRetries: Int? = null,
)

@Serializable
data class FailoverConfig @JvmOverloads constructor(
    val threshold: Int? = null,
    @SerialName("cooldown_ms") val cooldownMs: Long? = null,
)

@Serializable
data class RateLimitConfig @JvmOverloads constructor(
    @SerialName("per_minute") val perMinute: Long? = null,
    val burst: Long? = null,
    val concurrency: Int? = null,
)

@Serializable
enum class QuotaMode {
    @SerialName("enforce") ENFORCE,
    @SerialName("warn") WARN,
    @SerialName("off") OFF,
}

@Serializable
data class QuotaConfig @JvmOverloads constructor(
    val mode: QuotaMode? = null,
    val tier: String? = null,
    /** API path → daily limit. */
    val limits: Map<String, Long>? = null,
)

@Serializable
enum class StoreMode {
    @SerialName("memory") MEMORY,

    /** Fleet mode: give the client a [Store]. */
    @SerialName("external") EXTERNAL,
}

@Serializable
enum class PlacementIn {
    @SerialName("query") QUERY,
    @SerialName("header") HEADER,
}

/** Where a static credential goes (the `result` platform). [extra]: name/value pairs, `{app_id}` filled in. */
@Serializable
data class TokenPlacement @JvmOverloads constructor(
    @SerialName("in") val location: PlacementIn,
    val name: String,
    val prefix: String? = null,
    val extra: List<List<String>>? = null,
)
