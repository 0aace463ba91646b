// The ESM entry's types: index.mjs re-exports the CommonJS driver, so its
// names are index.d.cts's, and its default export is that module's exports.
import * as wxcore from './index.cjs';

export * from './index.cjs';
export default wxcore;
