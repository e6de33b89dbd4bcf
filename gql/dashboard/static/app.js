// reelgraph live dashboard: plain JavaScript, no build step.
//
// Queries and mutations go to /graphql over HTTP; live progress comes over one WebSocket
// (graphql-transport-ws, the vendored graphql-ws client). `campaignActivity` tells about
// jobs as they appear and change; every unfinished job is then followed with
// `jobProgress(afterSeq: <last seq we hold>)`, which replays what happened since that
// state was read and so loses nothing. Events are applied once, by `seq`. A pair video
// that waits for approval shows its storyboard to edit (storyboard.js); the campaign's
// briefs and their storyboards are edited, approved and followed in briefs.js and scenes.js.
"use strict";

(() => {
  const FINAL = new Set(["succeeded", "failed", "canceled"]);
  const RUNNING = new Set(["submitted", "processing", "downloading"]);
  const STALE_MS = 5000; // a running sub-job with no news this long: read its ETA again
  const KEY_STORE = "reelgraph.apiKey";
  const PICK_STORE = "reelgraph.selection";
  const MAX_FOLLOWED = 40; // the server allows 50 subscriptions per connection

  const JOB_FIELDS = `id kind status model costEstimateUsd costActualUsd errorCode error
    createdAt startedAt finishedAt lastSeq
    outputAsset { id kind mimeType url }
    storyboard { index score reason costUsd firstAsset { id url } lastAsset { id url } }
    subJobs { id index model status progress costUsd error errorCode etaSeconds
      pair { firstAsset { id url } lastAsset { id url } } }`;
  const EVENT_FIELDS = `jobId subJobId subJobIndex seq type status progress message costUsd
    outputAssetId etaSeconds createdAt`;
  const Q = {
    clients: `query { viewer { role } clients(first: 100) { nodes { id name
      campaigns(first: 100) { nodes { id name status } } } } }`,
    campaign: `query($id: ID!) { node(id: $id) { ... on Campaign { id name budgetUsd
      stats { totalSpendUsd jobCount } jobs(first: 25) { nodes { ${JOB_FIELDS} } } } } }`,
    stats: `query($id: ID!) { node(id: $id) { ... on Campaign { budgetUsd
      stats { totalSpendUsd jobCount } } } }`,
    job: `query($id: ID!) { node(id: $id) { ... on Job { ${JOB_FIELDS} } } }`,
    images: `query($id: ID!) { node(id: $id) { ... on Campaign {
      assets(first: 100, kind: IMAGE) { nodes { id filename url } } } } }`,
    estimate: `query($input: EstimateCostInput!) { estimateCost(input: $input) { __typename
      ... on CostEstimate { totalUsd remainingUsd withinBudget } ... on Error { code message } } }`,
    launch: `mutation($input: CreateVideoFromImagePairsInput!) {
      createVideoFromImagePairs(input: $input) { __typename
        ... on JobPayload { job { ${JOB_FIELDS} } } ... on Error { code field message } } }`,
    cancel: `mutation($input: JobInput!) { cancelJob(input: $input) { __typename
      ... on JobPayload { job { ${JOB_FIELDS} } } ... on Error { code message } } }`,
    activity: `subscription($id: ID!) { campaignActivity(campaignId: $id) { ${EVENT_FIELDS} } }`,
    progress: `subscription($id: ID!, $after: Int) {
      jobProgress(jobId: $id, afterSeq: $after) { ${EVENT_FIELDS} } }`,
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    key: "",
    clients: [],
    campaignId: null,
    generation: 0, // bumped on every campaign switch: late answers for the old one are dropped
    jobs: new Map(), // id -> job
    followed: new Map(), // job id -> unsubscribe
    fetching: new Map(), // job id -> {again}
    ws: null,
    stopActivity: null,
    images: null, // the campaign's images (a promise), for replacing storyboard frames
  };

  // --- small helpers -------------------------------------------------------------------

  const usd = (v) => (v === null || v === undefined ? "–" : `$${Number(v).toFixed(3)}`);
  const lower = (s) => (s ? String(s).toLowerCase() : s);
  // "Job:1f0c…" inside the base64 global ID: the row id's first block is enough to tell apart
  const shortId = (gid) => {
    try {
      return atob(gid).split(":").pop().slice(0, 8);
    } catch {
      return gid.slice(-8);
    }
  };
  const pct = (p) => `${Math.round(Math.max(0, Math.min(1, p || 0)) * 100)}%`;

  function showError(message) {
    $("error-text").textContent = message;
    $("error").hidden = false;
  }

  function errorText(err) {
    if (Array.isArray(err)) return err.map((e) => e.message || String(e)).join("; ");
    if (err && err.code && err.reason !== undefined) {
      return `connection closed (${err.code}${err.reason ? ` ${err.reason}` : ""})`;
    }
    return (err && err.message) || String(err);
  }

  async function gql(query, variables = {}) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        Authorization: `Bearer ${state.key}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      throw new Error(`HTTP ${response.status}`);
    }
    if (body.errors && body.errors.length) throw new Error(errorText(body.errors));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return body.data;
  }

  function setConn(kind, text) {
    const el = $("conn");
    el.dataset.state = kind;
    el.textContent = text;
  }

  const api = {
    jobFields: JOB_FIELDS,
    gql,
    usd,
    pct,
    errorText,
    adopt,
    fetchJob,
    setBar,
    progressOf,
    job: (id) => state.jobs.get(id),
    campaignImages,
  };
  const board = window.reelgraphStoryboard(api);
  const creative = window.reelgraphBriefs(api);

  function campaignImages() {
    if (!state.images) {
      const generation = state.generation;
      state.images = gql(Q.images, { id: state.campaignId }).then((data) =>
        data.node ? data.node.assets.nodes : [],
      );
      state.images.catch(() => {
        if (generation === state.generation) state.images = null; // ask again next time
      });
    }
    return state.images;
  }

  // --- key, clients, campaigns ---------------------------------------------------------

  async function connect(key) {
    state.key = key.trim();
    if (!state.key) return;
    let data;
    try {
      data = await gql(Q.clients);
    } catch (err) {
      setConn("rejected", "key rejected");
      showError(`This key does not work: ${errorText(err)}`);
      return;
    }
    localStorage.setItem(KEY_STORE, state.key);
    $("error").hidden = true;
    state.clients = data.clients.nodes;
    openSocket();
    const saved = JSON.parse(localStorage.getItem(PICK_STORE) || "{}");
    fillSelect($("client"), state.clients, "Pick a client…", saved.client);
    onClientChange(saved.campaign);
  }

  function fillSelect(select, items, placeholder, selected) {
    select.replaceChildren(new Option(placeholder, ""));
    for (const item of items) select.add(new Option(item.name, item.id));
    select.disabled = items.length === 0;
    if (selected && items.some((i) => i.id === selected)) select.value = selected;
  }

  function onClientChange(savedCampaign) {
    const client = state.clients.find((c) => c.id === $("client").value);
    const campaigns = client ? client.campaigns.nodes : [];
    fillSelect($("campaign"), campaigns, client ? "Pick a campaign…" : "–", savedCampaign);
    openCampaign($("campaign").value || null);
  }

  function remember() {
    const pick = { client: $("client").value, campaign: $("campaign").value };
    localStorage.setItem(PICK_STORE, JSON.stringify(pick));
  }

  // --- the live connection -------------------------------------------------------------

  function openSocket() {
    if (state.ws) state.ws.dispose();
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    let connections = 0;
    setConn("connecting", "connecting…");
    state.ws = graphqlWs.createClient({
      url,
      lazy: false,
      connectionParams: () => ({ Authorization: `Bearer ${state.key}` }),
      retryAttempts: Infinity,
      shouldRetry: (event) => !(event && event.code === 4403),
      on: {
        connected: () => {
          setConn("live", "live");
          connections += 1;
          if (connections > 1) reloadCampaign(); // campaignActivity does not replay a gap
        },
        closed: (event) => {
          if (event && event.code === 4403) setConn("rejected", "key rejected");
          else setConn("retrying", "reconnecting…");
        },
      },
      onNonLazyError: (err) => showError(`Live connection failed: ${errorText(err)}`),
    });
  }

  function unfollowAll() {
    for (const stop of state.followed.values()) stop();
    state.followed.clear();
    if (state.stopActivity) state.stopActivity();
    state.stopActivity = null;
  }

  function openCampaign(campaignId) {
    unfollowAll();
    state.generation += 1;
    state.campaignId = campaignId;
    state.jobs.clear();
    state.fetching.clear();
    state.images = null;
    board.forget();
    $("jobs").replaceChildren();
    $("launch").hidden = !campaignId;
    $("campaign-info").hidden = !campaignId;
    $("hint").hidden = Boolean(campaignId);
    $("empty").hidden = true;
    remember();
    creative.open(campaignId && state.ws ? campaignId : null);
    if (!campaignId || !state.ws) return;
    const generation = state.generation;
    state.stopActivity = state.ws.subscribe(
      { query: Q.activity, variables: { id: campaignId } },
      {
        next: (result) => {
          if (generation !== state.generation) return;
          if (result.errors) showError(errorText(result.errors));
          else onActivity(result.data.campaignActivity);
        },
        error: (err) => showError(`Live updates stopped: ${errorText(err)}`),
        complete: () => {},
      },
    );
    reloadCampaign();
    estimate();
  }

  async function reloadCampaign() {
    const generation = state.generation;
    if (!state.campaignId) return;
    let data;
    try {
      data = await gql(Q.campaign, { id: state.campaignId });
    } catch (err) {
      showError(`Could not load the campaign: ${errorText(err)}`);
      return;
    }
    if (generation !== state.generation || !data.node) return;
    showStats(data.node);
    for (const node of data.node.jobs.nodes) adopt(node);
    $("empty").hidden = state.jobs.size > 0;
  }

  async function refreshStats() {
    const generation = state.generation;
    try {
      const data = await gql(Q.stats, { id: state.campaignId });
      if (generation === state.generation && data.node) showStats(data.node);
    } catch {
      /* the numbers stay as they were; the next change retries */
    }
  }

  function showStats(campaign) {
    $("budget").textContent = campaign.budgetUsd === null ? "none" : usd(campaign.budgetUsd);
    $("spent").textContent = usd(campaign.stats.totalSpendUsd);
    $("job-count").textContent = String(campaign.stats.jobCount);
  }

  // --- jobs: state ---------------------------------------------------------------------

  function fromServer(node) {
    const subs = new Map();
    for (const s of node.subJobs) {
      subs.set(s.id, {
        id: s.id,
        index: s.index,
        model: s.model,
        status: lower(s.status),
        progress: s.progress,
        cost: s.costUsd,
        error: s.error,
        eta: s.etaSeconds,
        pair: s.pair,
      });
    }
    return {
      id: node.id,
      kind: lower(node.kind),
      status: lower(node.status),
      estimate: node.costEstimateUsd,
      actual: node.costActualUsd,
      error: node.error,
      createdAt: node.createdAt,
      finishedAt: node.finishedAt,
      startedAt: node.startedAt,
      lastSeq: node.lastSeq,
      output: node.outputAsset,
      storyboard: node.storyboard,
      stage: null,
      heard: Date.now(), // when the page last heard of this job (its ETAs are that old)
      subs,
      log: [],
      el: null,
    };
  }

  // A server copy of a job replaces ours; events we hold past its `lastSeq` are reapplied.
  function adopt(node) {
    const old = state.jobs.get(node.id);
    const job = fromServer(node);
    if (old) {
      job.el = old.el;
      for (const event of old.log) if (event.seq > job.lastSeq) apply(job, event);
    }
    state.jobs.set(job.id, job);
    render(job);
    $("empty").hidden = true;
    if (!FINAL.has(job.status)) follow(job);
    return job;
  }

  function follow(job) {
    if (state.followed.has(job.id) || state.followed.size >= MAX_FOLLOWED || !state.ws) return;
    const generation = state.generation;
    const stop = state.ws.subscribe(
      { query: Q.progress, variables: { id: job.id, after: job.lastSeq } },
      {
        next: (result) => {
          if (generation !== state.generation) return;
          if (result.errors) showError(errorText(result.errors));
          else onEvent(result.data.jobProgress);
        },
        error: (err) => {
          state.followed.delete(job.id);
          showError(`Lost job ${job.id}: ${errorText(err)}`);
        },
        complete: () => {
          if (generation !== state.generation) return;
          state.followed.delete(job.id);
          fetchJob(job.id); // the finished job: its video URL and final costs
          refreshStats();
        },
      },
    );
    state.followed.set(job.id, stop);
  }

  function onActivity(event) {
    const job = state.jobs.get(event.jobId);
    if (!job) fetchJob(event.jobId); // a new job: read it, then follow it from its lastSeq
    else if (state.followed.has(job.id)) return; // jobProgress brings it, in order
    else if (state.followed.size < MAX_FOLLOWED) follow(job); // e.g. a retried job wakes up
    else onEvent(event);
  }

  function onEvent(event) {
    const job = state.jobs.get(event.jobId);
    if (!job || event.seq <= job.lastSeq) return;
    const unknownSub = event.subJobId && !job.subs.has(event.subJobId);
    apply(job, event);
    render(job);
    const status = event.type === "job.status" ? event.status : null;
    const awaiting = status === "awaiting_approval";
    const started = status === "running" && !job.startedAt;
    // a new sub-job's model and pair; the storyboard to approve; the API's start time
    if (unknownSub || awaiting || started) fetchJob(job.id);
  }

  function apply(job, event) {
    job.lastSeq = event.seq;
    job.heard = Date.now();
    job.log.push(event);
    if (job.log.length > 1000) job.log.shift();
    if (event.type === "job.status") {
      job.status = event.status;
      if (event.costUsd !== null) job.actual = event.costUsd;
      if (event.status === "failed" && event.message) job.error = event.message;
      if (FINAL.has(event.status)) job.finishedAt = event.createdAt || new Date().toISOString();
      job.stage = null;
    } else if (event.type === "job.progress") {
      job.stage = { progress: event.progress, message: event.message };
    } else if (event.subJobId) {
      let sub = job.subs.get(event.subJobId);
      if (!sub) {
        sub = { id: event.subJobId, index: event.subJobIndex ?? job.subs.size, model: "" };
        job.subs.set(sub.id, sub);
      }
      sub.status = event.status;
      if (event.progress !== null) sub.progress = event.progress;
      if (event.type === "subjob.status" && event.costUsd !== null) sub.cost = event.costUsd;
      sub.eta = FINAL.has(event.status) ? null : event.etaSeconds;
      if (event.status === "failed" && event.message) sub.error = event.message;
      if (event.status === "succeeded") sub.error = null;
    }
  }

  async function fetchJob(id) {
    const pending = state.fetching.get(id);
    if (pending) {
      pending.again = true; // one more read once this one lands
      return;
    }
    const generation = state.generation;
    const mark = { again: false };
    state.fetching.set(id, mark);
    try {
      const data = await gql(Q.job, { id });
      if (generation === state.generation && data.node) adopt(data.node);
    } catch (err) {
      showError(`Could not load job ${id}: ${errorText(err)}`);
    } finally {
      if (generation === state.generation) state.fetching.delete(id);
    }
    if (mark.again && generation === state.generation) fetchJob(id);
  }

  // --- jobs: drawing -------------------------------------------------------------------

  function card(job) {
    if (job.el) return job.el;
    const el = $("job-template").content.firstElementChild.cloneNode(true);
    el.dataset.jobId = job.id;
    el.querySelector(".job-id").textContent = shortId(job.id);
    el.querySelector(".job-id").title = job.id;
    el.querySelector(".cancel").addEventListener("click", () => cancel(job.id, el));
    job.el = el;
    // newest first, by creation time
    const later = [...$("jobs").children].find((other) => {
      const otherJob = state.jobs.get(other.dataset.jobId);
      return otherJob && otherJob.createdAt < job.createdAt;
    });
    $("jobs").insertBefore(el, later || null);
    return el;
  }

  function setBar(bar, progress, status) {
    const value = status === "succeeded" ? 1 : Math.max(0, Math.min(1, progress || 0));
    bar.dataset.progress = String(value);
    bar.dataset.status = status || "";
    bar.querySelector(".fill").style.width = pct(value);
    bar.querySelector(".pct").textContent = pct(value);
  }

  function setBadge(el, status) {
    el.textContent = (status || "").replace("_", " ");
    el.dataset.status = status || "";
  }

  function render(job) {
    const el = card(job);
    el.dataset.status = job.status;
    el.querySelector(".kind").textContent = job.kind.replace("_", " ");
    setBadge(el.querySelector("header .status"), job.status);
    const spent = FINAL.has(job.status) || Number(job.actual) > 0;
    el.querySelector(".cost").textContent =
      `est ${usd(job.estimate)}` + (spent ? ` · actual ${usd(job.actual)}` : "");
    el.querySelector(".when").textContent = when(job);
    el.querySelector(".cancel").hidden = FINAL.has(job.status);

    const subs = [...job.subs.values()].sort((a, b) => a.index - b.index);
    setBar(el.querySelector(".job-bar"), progressOf(job), job.status);
    el.querySelector(".note").textContent = job.stage ? job.stage.message || "" : note(job);

    const error = el.querySelector(":scope > .error");
    error.hidden = !job.error;
    error.textContent = job.error ? `Error: ${job.error}` : "";

    const list = el.querySelector(".subjobs");
    for (const row of [...list.children]) {
      // gone: the clips of a storyboard replaced when it was approved
      if (!job.subs.has(row.dataset.subId)) row.remove();
    }
    for (const sub of subs) renderSub(list, sub);
    renderOutput(el.querySelector(".output"), job);
    board.render(job, el);
    creative.jobChanged(job);
  }

  // The job's own progress when it reports one (a step such as combining), else its
  // sub-jobs' average.
  function progressOf(job) {
    if (job.stage && job.stage.progress !== null) return job.stage.progress;
    const subs = [...job.subs.values()];
    if (!subs.length) return 0;
    return subs.reduce((sum, s) => sum + (s.status === "succeeded" ? 1 : s.progress || 0), 0) /
      subs.length;
  }

  function note(job) {
    if (job.status === "awaiting_approval") return "Waiting for the storyboard to be approved.";
    if (job.status === "combining") return "Combining the clips…";
    return "";
  }

  // Only times the API gave: a job that has not started says so, and has no run time.
  function when(job) {
    const time = (iso) => new Date(iso).toLocaleTimeString();
    if (!job.startedAt) {
      if (job.finishedAt) return `${job.status} ${time(job.finishedAt)} · never started`;
      return `${job.status === "queued" ? "queued" : "created"} ${time(job.createdAt)}`;
    }
    if (!job.finishedAt) return `started ${time(job.startedAt)}`;
    const seconds = (new Date(job.finishedAt) - new Date(job.startedAt)) / 1000;
    return `started ${time(job.startedAt)} · took ${seconds.toFixed(1)}s`;
  }

  // "unknown" until the model has history; never "0s left" while work remains.
  function etaText(sub) {
    if (!RUNNING.has(sub.status)) return "";
    if (sub.eta === null || sub.eta === undefined) return "ETA unknown";
    if (sub.eta < 1) return "finishing…";
    const s = Math.round(sub.eta);
    if (s < 90) return `~${s}s left`;
    if (s < 90 * 60) return `~${Math.round(s / 60)} min left`;
    return `~${(s / 3600).toFixed(1)} h left`;
  }

  function renderSub(list, sub) {
    let row = list.querySelector(`[data-sub-id="${CSS.escape(sub.id)}"]`);
    if (!row) {
      row = $("sub-template").content.firstElementChild.cloneNode(true);
      row.dataset.subId = sub.id;
      const after = [...list.children].find((r) => Number(r.dataset.index) > sub.index);
      list.insertBefore(row, after || null);
    }
    row.dataset.index = String(sub.index);
    row.dataset.status = sub.status || "";
    row.querySelector(".idx").textContent = `#${sub.index}`;
    row.querySelector(".model").textContent = sub.model ? sub.model.split("/").pop() : "";
    setBar(row.querySelector(".bar"), sub.progress, sub.status);
    setBadge(row.querySelector(".status"), sub.status);
    row.querySelector(".cost").textContent = usd(sub.cost);
    const eta = row.querySelector(".eta");
    eta.textContent = etaText(sub);
    const known = sub.eta !== null && sub.eta !== undefined;
    eta.dataset.eta = !RUNNING.has(sub.status) ? "" : known ? String(sub.eta) : "unknown";
    const error = row.querySelector(".error");
    error.hidden = !sub.error;
    error.textContent = sub.error || "";
    const pair = row.querySelector(".pair");
    if (sub.pair && !pair.childElementCount) {
      for (const asset of [sub.pair.firstAsset, sub.pair.lastAsset]) {
        if (!asset) continue;
        const img = document.createElement("img");
        img.src = asset.url;
        img.alt = "";
        img.loading = "lazy";
        pair.append(img);
      }
    } else if (sub.pair) {
      // a thumbnail cut off by a dropped connection loads again with the fresh URL
      const assets = [sub.pair.firstAsset, sub.pair.lastAsset].filter(Boolean);
      pair.querySelectorAll("img").forEach((img, i) => {
        if (broken(img) && assets[i]) img.src = assets[i].url;
      });
    }
  }

  const broken = (media) =>
    media.tagName === "IMG" ? media.complete && media.naturalWidth === 0 : Boolean(media.error);

  function renderOutput(box, job) {
    const asset = job.output;
    if (!asset || !asset.url) return;
    const current = box.querySelector(".result");
    if (box.dataset.assetId === asset.id && current && !broken(current)) return;
    box.dataset.assetId = asset.id; // a new signed URL for the same asset keeps the player
    let media;
    if (asset.kind === "VIDEO") {
      media = document.createElement("video");
      Object.assign(media, { controls: true, muted: true, playsInline: true, preload: "auto" });
    } else if (asset.kind === "AUDIO") {
      media = document.createElement("audio");
      Object.assign(media, { controls: true, preload: "auto" });
    } else {
      media = document.createElement("img");
      media.alt = "generated image";
    }
    media.className = "result";
    media.src = asset.url;
    const link = document.createElement("a");
    Object.assign(link, { href: asset.url, target: "_blank", rel: "noopener", textContent: "open ↗" });
    box.replaceChildren(media, link);
  }

  // --- actions -------------------------------------------------------------------------

  async function cancel(jobId, el) {
    const button = el.querySelector(".cancel");
    button.disabled = true;
    try {
      const data = await gql(Q.cancel, { input: { jobId } });
      const payload = data.cancelJob;
      if (payload.__typename === "JobPayload") adopt(payload.job);
      else showError(`Cancel refused: ${payload.message}`);
    } catch (err) {
      showError(`Cancel failed: ${errorText(err)}`);
    } finally {
      button.disabled = false;
    }
  }

  function launchInput() {
    const form = new FormData($("launch-form"));
    return {
      campaignId: state.campaignId,
      numPairs: Number(form.get("numPairs")),
      clipDuration: Number(form.get("clipDuration")),
      resolution: form.get("resolution"),
      transition: form.get("transition"),
    };
  }

  async function launch(event) {
    event.preventDefault();
    const button = $("launch-button");
    button.disabled = true;
    try {
      const data = await gql(Q.launch, { input: launchInput() });
      const payload = data.createVideoFromImagePairs;
      if (payload.__typename === "JobPayload") adopt(payload.job);
      else showError(`Not launched (${payload.code}): ${payload.message}`);
    } catch (err) {
      showError(`Launch failed: ${errorText(err)}`);
    } finally {
      button.disabled = false;
      refreshStats();
    }
  }

  let estimateSeq = 0;
  async function estimate() {
    if (!state.campaignId) return;
    const mine = ++estimateSeq;
    const out = $("estimate");
    try {
      const data = await gql(Q.estimate, { input: { imagePairs: launchInput() } });
      if (mine !== estimateSeq) return;
      const result = data.estimateCost;
      if (result.__typename !== "CostEstimate") {
        out.textContent = result.message;
        return;
      }
      const left = result.remainingUsd === null ? "" : ` · ${usd(result.remainingUsd)} left`;
      out.textContent = `≈ ${usd(result.totalUsd)}${left}${result.withinBudget ? "" : " · over budget"}`;
    } catch (err) {
      if (mine === estimateSeq) out.textContent = errorText(err);
    }
  }

  // An ETA is as old as the news it came with: when a running sub-job has been quiet for a
  // while (a provider polled every 30 s), read its job again for an ETA as of now.
  function refreshQuietJobs() {
    const now = Date.now();
    for (const job of state.jobs.values()) {
      const running = [...job.subs.values()].some((s) => RUNNING.has(s.status));
      if (running && !FINAL.has(job.status) && now - job.heard > STALE_MS) {
        job.heard = now; // one read per quiet spell, not one per tick
        fetchJob(job.id);
      }
    }
  }

  // --- wiring --------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    setInterval(refreshQuietJobs, 1000);
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      connect($("api-key").value);
    });
    $("forget-key").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORE);
      $("api-key").value = "";
      state.key = "";
      openCampaign(null);
      if (state.ws) state.ws.dispose();
      state.ws = null;
      setConn("off", "offline");
      fillSelect($("client"), [], "–");
      fillSelect($("campaign"), [], "–");
    });
    $("error-close").addEventListener("click", () => ($("error").hidden = true));
    $("client").addEventListener("change", () => onClientChange(null));
    $("campaign").addEventListener("change", () => openCampaign($("campaign").value || null));
    $("launch-form").addEventListener("submit", launch);
    $("launch-form").addEventListener("change", estimate);
    const saved = localStorage.getItem(KEY_STORE);
    if (saved) {
      $("api-key").value = saved;
      connect(saved);
    }
  });
})();
