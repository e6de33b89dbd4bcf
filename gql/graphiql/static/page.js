// reelgraph's GraphiQL page: plain JavaScript over the vendored UMD builds in vendor/
// (React 18 and GraphiQL 4, which bundles graphql-ws); no build step, and nothing is
// fetched from anywhere but this origin.
//
// The API key is the one the dashboard saved in this browser (localStorage
// "reelgraph.apiKey"), or one entered in the bar above the editor, which is then saved
// under that same name. Every operation carries it as `Authorization: Bearer <key>`: a
// header for queries and mutations over HTTP, and the `connection_init` payload for
// subscriptions over WebSocket (graphql-transport-ws). An Authorization header written in
// GraphiQL's Headers tab wins over it.
"use strict";

(() => {
  const KEY_STORE = "reelgraph.apiKey"; // the dashboard's name: one key per browser
  const endpoint = `${location.origin}${location.pathname}`;
  const $ = (id) => document.getElementById(id);
  let key = localStorage.getItem(KEY_STORE) || "";
  let checks = 0; // only the latest key check may change what the bar says

  const DEFAULT_QUERY = `# reelgraph GraphiQL: write an operation, run it with Ctrl-Enter.
#
# The API key in the bar above goes with every operation as
# Authorization: Bearer <key>, subscriptions included (in connection_init), e.g.
#   subscription { jobProgress(jobId: "...") { seq type status progress message } }

query Viewer {
  viewer { role clientId }
  clients(first: 10) { nodes { id name } }
}
`;

  function socketUrl(url) {
    const parsed = new URL(url);
    parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
    return parsed.toString();
  }

  // GraphiQL's own fetcher: HTTP for queries and mutations, graphql-ws for subscriptions,
  // where the operation's headers become the connection_init payload.
  const base = GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: socketUrl(endpoint) });

  function withKey(headers) {
    const out = { ...(headers || {}) };
    const written = Object.keys(out).some((name) => name.toLowerCase() === "authorization");
    if (key && !written) out.Authorization = `Bearer ${key}`;
    return out;
  }

  const fetcher = (params, opts) => base(params, { ...opts, headers: withKey(opts && opts.headers) });

  // --- the key bar ---------------------------------------------------------------------

  const shown = (k) => `${k.split("_").slice(0, 2).join("_")}_…`; // rg_<prefix>_…, never the secret

  function say(state, text) {
    const el = $("key-state");
    el.dataset.state = state;
    el.textContent = text;
  }

  async function roleOf(candidate) {
    let response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: `Bearer ${candidate}`,
        },
        body: JSON.stringify({ query: "query KeyCheck { viewer { role } }" }),
      });
    } catch (err) {
      throw new Error(`the server cannot be reached (${err.message})`);
    }
    const body = await response.json().catch(() => null);
    if (body && body.data && body.data.viewer) return body.data.viewer.role.toLowerCase();
    const errors = (body && body.errors) || [];
    throw new Error(errors.length ? errors.map((e) => e.message).join("; ") : `HTTP ${response.status}`);
  }

  async function describe(candidate, saved) {
    const mine = ++checks;
    say("checking", `Checking ${shown(candidate)}…`);
    try {
      const role = await roleOf(candidate);
      if (mine === checks) say("ok", `Using ${shown(candidate)} (${role} key${saved ? ", saved in this browser" : ""})`);
      return true;
    } catch (err) {
      if (mine === checks) say("rejected", `This key does not work: ${err.message}`);
      return false;
    }
  }

  async function useKey(event) {
    event.preventDefault();
    const candidate = $("api-key").value.trim();
    if (!candidate) return;
    if (!(await describe(candidate, false))) return; // a refused key is neither used nor kept
    key = candidate;
    localStorage.setItem(KEY_STORE, key);
    $("api-key").value = "";
  }

  function forgetKey() {
    checks++;
    key = "";
    localStorage.removeItem(KEY_STORE);
    $("api-key").value = "";
    say("none", "No API key: paste one to run operations.");
  }

  function adopt(saved) {
    key = saved || "";
    if (key) describe(key, true);
    else forgetKey();
  }

  $("key-form").addEventListener("submit", useKey);
  $("forget-key").addEventListener("click", forgetKey);
  // The dashboard, open in another tab, changed or forgot the key.
  window.addEventListener("storage", (event) => {
    if (event.key === KEY_STORE || event.key === null) adopt(localStorage.getItem(KEY_STORE));
  });
  if (key) describe(key, true);

  // --- GraphiQL ------------------------------------------------------------------------

  // The page's CSP admits inline <style> elements with this answer's nonce only: the ones
  // GraphiQL's dialogs add read it from here (the name webpack gave it).
  window.__webpack_nonce__ = document.querySelector('meta[name="csp-nonce"]').content;

  const root = ReactDOM.createRoot($("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: DEFAULT_QUERY,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false, // the key lives in the bar, not in GraphiQL's storage
      inputValueDeprecation: true,
    }),
  );
})();
