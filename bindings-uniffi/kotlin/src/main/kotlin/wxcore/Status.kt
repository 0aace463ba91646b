// The status snapshot ([Client.status]) as Kotlin types. The core writes the
// snapshot; these mirror its field names (the same in every language). Names
// from fixed sets (states, categories, triggers) stay strings so that a value
// a newer core adds arrives as written instead of failing the decode.
package wxcore

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.JsonPrimitive

/** The whole snapshot, taken at [nowMs]. */
@Serializable
data class Status(
    val version: Int,
    @SerialName("now_ms") val nowMs: Long,
    val apps: List<AppStatus> = emptyList(),
    val quotas: List<QuotaStatus> = emptyList(),
    val hosts: List<HostStatus> = emptyList(),
    val alerts: List<AlertStatus> = emptyList(),
)

/** One configured app: its credential, token, last refresh and load. */
@Serializable
data class AppStatus(
    val app: String,
    val platform: String,
    /** `secret`, `server`, `relay` or `static`. */
    val credential: String,
    /** Null while the app holds no token. */
    val token: TokenStatus? = null,
    /** A token fetch is under way. */
    val fetching: Boolean = false,
    @SerialName("last_refresh") val lastRefresh: RefreshStatus? = null,
    val refreshes: Long = 0,
    val queued: Int = 0,
    @SerialName("in_flight") val inFlight: Int = 0,
    @SerialName("waiting_for_token") val waitingForToken: Int = 0,
    /** Calls are refused locally until then (an IP block). */
    @SerialName("blocked_until_ms") val blockedUntilMs: Long? = null,
)

/** The app's current token, described: [id] is derived from it (a SHA-256 prefix), never the token. */
@Serializable
data class TokenStatus(
    val id: String,
    @SerialName("obtained_at_ms") val obtainedAtMs: Long? = null,
    @SerialName("age_ms") val ageMs: Long? = null,
    @SerialName("expires_at_ms") val expiresAtMs: Long,
    @SerialName("remaining_ms") val remainingMs: Long,
    @SerialName("refresh_at_ms") val refreshAtMs: Long? = null,
)

/** The last token fetch: [trigger] `initial`, `refresh`, `expired` or `invalidated`; [result] `ok` or an error kind. */
@Serializable
data class RefreshStatus(
    @SerialName("at_ms") val atMs: Long,
    val trigger: String,
    val result: String,
    /** The platform's code (a number or a string), if it gave one. */
    val code: JsonPrimitive? = null,
)

/** Local daily quota counting for one API; [percent] is null without a limit. */
@Serializable
data class QuotaStatus(
    val app: String,
    val api: String,
    val used: Long,
    val limit: Long? = null,
    val percent: Int? = null,
    val exhausted: Boolean = false,
    @SerialName("resets_at_ms") val resetsAtMs: Long? = null,
)

/** One host's circuit: [state] `closed`, `open` or `half_open`. */
@Serializable
data class HostStatus(
    val host: String,
    val state: String,
    @SerialName("until_ms") val untilMs: Long? = null,
    val failures: Long = 0,
)

/**
 * One alert: failures of one [category] (`connect_timeout`, `mark_fail`, …)
 * for one app. It is [open] while its 5-minute window runs.
 */
@Serializable
data class AlertStatus(
    val app: String,
    val category: String,
    val open: Boolean,
    @SerialName("first_seen_ms") val firstSeenMs: Long,
    @SerialName("last_seen_ms") val lastSeenMs: Long,
    @SerialName("window_start_ms") val windowStartMs: Long,
    @SerialName("count_window") val countWindow: Long,
    @SerialName("count_total") val countTotal: Long,
    val sample: AlertSample? = null,
)

/** The latest failure of an alert, as an example. */
@Serializable
data class AlertSample(val host: String? = null, val api: String? = null, val error: String? = null)
