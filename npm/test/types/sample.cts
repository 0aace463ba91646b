// CommonJS consumers: the `require` condition's types (src/index.d.cts).
import wxcore = require('wxcore');
import { Client, WxError, type ErrorKind } from 'wxcore';

const client = new Client({ apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wx', secret: 's' }] });
client.on('event', (e) => console.log(e.type));

export async function userInfo(openid: string): Promise<{ nickname?: string } | ErrorKind> {
  try {
    return await client.call<{ nickname?: string }>('oa', 'GET', '/cgi-bin/user/info', { query: { openid } });
  } catch (e) {
    if (e instanceof WxError) return e.kind;
    throw e;
  }
}

// Monitoring: the snapshot is typed to its leaves; a logger may be console.
const watched = new Client({ apps: [], logger: console });
const tokenId: string | undefined = watched.status().apps[0]?.token?.id;
const hostState: 'closed' | 'open' | 'half_open' | undefined = watched.status().hosts[0]?.state;
const exposition: string = watched.metrics() + client.engine.metrics(0);
// @ts-expect-error: the snapshot names token ids, never tokens
watched.status().apps[0]?.token?.value;
export { tokenId, hostState, exposition };

const kinds: readonly ErrorKind[] = wxcore.KINDS;
// @ts-expect-error: the kinds are a closed set; a typo must not compile
const typo: ErrorKind = 'rate_limit';
export { kinds, typo };
