// Subscribe from Node with the graphql-ws client (graphql-transport-ws protocol).
// usage: node subscribe.mjs <ws-url> <api-key> <job-id> [<campaign-id>]
// Prints one JSON line per message: {"op": "job"|"campaign", "event"|"complete"|"error": ...};
// exits 0 once the job subscription completes.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, key, jobId, campaignId] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${key}` },
  retryAttempts: 0,
  lazy: false,
  onNonLazyError: (error) => print({ op: "connection", error: String(error?.reason ?? error) }),
  on: { connected: () => print({ op: "connection", connected: true }) },
});

const EVENT = `jobId subJobId seq type status progress message subJobIndex costUsd outputAssetId
  expectedSeconds etaSeconds`;

function follow(op, query, variables) {
  return new Promise((resolve) => {
    client.subscribe(
      { query, variables },
      {
        next: (result) => print({ op, event: result.data ? Object.values(result.data)[0] : null, errors: result.errors }),
        error: (error) => { print({ op, error: Array.isArray(error) ? error : String(error?.reason ?? error) }); resolve(); },
        complete: () => { print({ op, complete: true }); resolve(); },
      },
    );
  });
}

if (campaignId) {
  follow("campaign", `subscription($c: ID!) { campaignActivity(campaignId: $c) { ${EVENT} } }`, { c: campaignId });
}
await follow("job", `subscription($j: ID!) { jobProgress(jobId: $j) { ${EVENT} } }`, { j: jobId });
await client.dispose();
process.exit(0);
