// Briefs and storyboards of the open campaign: a brief is pasted as the agency wrote it
// (parseBrief reads its parts), a storyboard is written from it as a job (its card in the
// job list moves live), and the newest storyboard of each brief opens in the editor
// (scenes.js); an older one of the same brief can be picked to read, or to edit while
// it is a draft. Loaded before app.js, which calls `reelgraphBriefs(api)` once.
"use strict";

window.reelgraphBriefs = (api) => {
  const scenes = window.reelgraphScenes(api);
  const PICKABLE = 10; // a brief's newest storyboards offered in its picker
  const BRIEF_FIELDS = `id product keyMessage durationSeconds aspectRatio videoModel reader
    createdAt storyboards(first: 1) { nodes { ${scenes.fields} } }
    boards: storyboards(first: ${PICKABLE}) { totalCount nodes { id } }`;
  const ERROR = "... on Error { code field message }";
  const Q = {
    briefs: `query($id: ID!) { node(id: $id) { ... on Campaign {
      briefs(first: 20) { nodes { ${BRIEF_FIELDS} } } } } }`,
    parse: `mutation($input: ParseBriefInput!) { parseBrief(input: $input) {
      __typename ... on BriefPayload { brief { ${BRIEF_FIELDS} } } ${ERROR} } }`,
    write: `mutation($input: GenerateStoryboardInput!) { generateStoryboard(input: $input) {
      __typename ... on StoryboardJobPayload { job { ${api.jobFields} } } ${ERROR} } }`,
  };
  const $ = (id) => document.getElementById(id);
  const { el, button } = window.reelgraphDom;
  const state = {
    campaignId: null,
    generation: 0,
    writing: new Map(), // writing job id -> brief id
    asking: new Set(), // briefs whose generateStoryboard is on its way: one click, one job
    loads: 0, // briefs reads asked for, and the newest applied: a late answer is dropped
    loaded: 0,
    live: new Set(), // writing jobs seen unfinished: their end brings a new storyboard
    errors: new Map(), // brief id -> the last refusal
    picked: new Map(), // brief id -> an older storyboard shown instead of the newest
    briefs: [],
  };

  function showError(text) {
    $("brief-error").textContent = text;
    $("brief-error").hidden = !text;
  }

  async function open(campaignId) {
    state.generation += 1;
    state.campaignId = campaignId;
    state.writing.clear();
    state.asking.clear();
    state.live.clear();
    state.errors.clear();
    state.picked.clear();
    state.briefs = [];
    scenes.forget();
    $("briefs").replaceChildren();
    $("creative").hidden = !campaignId;
    showError("");
    if (campaignId) await load();
  }

  async function load() {
    const generation = state.generation;
    const asked = (state.loads += 1);
    let data;
    try {
      data = await api.gql(Q.briefs, { id: state.campaignId });
    } catch (err) {
      if (generation === state.generation) showError(`Could not load the briefs: ${api.errorText(err)}`);
      return;
    }
    if (generation !== state.generation || !data.node || asked < state.loaded) return;
    state.loaded = asked;
    state.briefs = data.node.briefs.nodes;
    for (const brief of state.briefs) { // a new storyboard is shown as it arrives
      const picked = state.picked.get(brief.id);
      if (picked && picked.newest !== newestOf(brief)) state.picked.delete(brief.id);
    }
    draw();
  }

  function draw() {
    const list = $("briefs");
    const kept = new Map([...list.children].map((node) => [node.dataset.briefId, node]));
    list.replaceChildren(...state.briefs.map((brief) => drawBrief(brief, kept.get(brief.id))));
    $("briefs-empty").hidden = state.briefs.length > 0;
  }

  function summary(brief) {
    const parts = [
      `${brief.durationSeconds} s`, brief.aspectRatio, brief.videoModel.split("/").pop(),
      `read by ${brief.reader}`,
    ];
    return parts.join(" · ");
  }

  function writingJob(brief) {
    for (const [jobId, briefId] of state.writing) {
      const job = api.job(jobId);
      if (briefId === brief.id && job && !["succeeded", "failed", "canceled"].includes(job.status)) {
        return job;
      }
    }
    return null;
  }

  const newestOf = (brief) => (brief.storyboards.nodes[0] || {}).id;

  // Which storyboard of the brief the editor shows: the newest, or one picked. Named by
  // when it was written (its version and status are the editor's to show: they move).
  function picker(brief, shown) {
    const boards = brief.boards.nodes;
    const total = brief.boards.totalCount;
    const pick = el("select", "board-pick");
    pick.setAttribute("aria-label", "Which storyboard");
    boards.forEach((b, i) => {
      const newest = i === 0 ? " (newest)" : "";
      pick.add(new Option(`Storyboard ${total - i} of ${total}${newest}`, b.id));
    });
    pick.value = shown.id;
    pick.hidden = boards.length < 2;
    pick.addEventListener("change", () => pickBoard(brief, pick.value));
    return pick;
  }

  async function pickBoard(brief, id) {
    const generation = state.generation;
    state.errors.delete(brief.id);
    if (id === newestOf(brief)) {
      state.picked.delete(brief.id);
      draw();
      return;
    }
    let data = null;
    try {
      data = (await api.gql(scenes.boardQuery, { id })).node;
    } catch (err) {
      state.errors.set(brief.id, `Could not read that storyboard: ${api.errorText(err)}`);
    }
    if (generation !== state.generation) return; // another campaign is open now
    if (data) state.picked.set(brief.id, { data, newest: newestOf(brief) });
    draw();
  }

  function drawBrief(brief, node) {
    const article = node || el("article", "brief");
    article.dataset.briefId = brief.id;
    const header = el("header", "brief-head");
    header.append(
      el("strong", "brief-product", brief.product || "Untitled brief"),
      el("span", "muted", summary(brief)),
    );
    const writing = Boolean(writingJob(brief)) || state.asking.has(brief.id);
    const picked = state.picked.get(brief.id);
    const board = picked ? picked.data : brief.storyboards.nodes[0];
    if (board) header.append(picker(brief, board));
    const label = writing ? "Writing…" : board ? "Write a new storyboard" : "Write storyboard";
    const write = button("write", label, "", () => writeStoryboard(brief));
    write.disabled = writing;
    header.append(write);
    const message = el("p", "brief-message muted", brief.keyMessage || "");
    message.hidden = !brief.keyMessage;
    const error = el("p", "error brief-refusal", state.errors.get(brief.id) || "");
    error.setAttribute("role", "alert");
    error.hidden = !state.errors.get(brief.id);
    // the editor keeps its own box (and any form being filled in) across redraws
    const box = (node && node.querySelector(".sbx")) || el("section", "sbx");
    box.setAttribute("aria-label", "Storyboard");
    box.hidden = !board;
    article.replaceChildren(header, message, error, box);
    if (board) scenes.show(box, board);
    return article;
  }

  async function parse(event) {
    event.preventDefault();
    const text = $("brief-text").value;
    const submit = $("brief-read");
    const generation = state.generation;
    submit.disabled = true;
    showError("");
    try {
      const data = await api.gql(Q.parse, { input: { campaignId: state.campaignId, text } });
      const payload = data.parseBrief;
      if (generation !== state.generation) return; // another campaign is open now
      if (payload.__typename === "BriefPayload") {
        $("brief-text").value = "";
        state.briefs = [payload.brief, ...state.briefs.filter((b) => b.id !== payload.brief.id)];
        draw();
      } else {
        showError(`Not read: ${payload.code}${payload.field ? ` (${payload.field})` : ""}: ${payload.message}`);
      }
    } catch (err) {
      if (generation === state.generation) showError(`Not read: ${api.errorText(err)}`);
    } finally {
      submit.disabled = false;
    }
  }

  async function writeStoryboard(brief) {
    if (state.asking.has(brief.id)) return;
    const generation = state.generation;
    state.errors.delete(brief.id);
    state.asking.add(brief.id);
    draw();
    let payload;
    try {
      payload = (await api.gql(Q.write, { input: { briefId: brief.id } })).generateStoryboard;
    } catch (err) {
      payload = { code: "ERROR", message: api.errorText(err) };
    }
    if (generation !== state.generation) return; // another campaign is open now
    state.asking.delete(brief.id);
    if (payload.__typename === "StoryboardJobPayload") {
      state.writing.set(payload.job.id, brief.id);
      api.adopt(payload.job); // its card in the job list, followed live
    } else {
      state.errors.set(brief.id, `Not written: ${payload.code}: ${payload.message}`);
    }
    draw();
  }

  // Every job app.js draws passes here: a storyboard written (here or elsewhere) is read,
  // a render moves the editor's bars.
  function jobChanged(job) {
    scenes.jobChanged(job);
    if (job.kind !== "storyboard_writing") return;
    const briefId = state.writing.get(job.id);
    if (!["succeeded", "failed", "canceled"].includes(job.status)) {
      state.live.add(job.id);
      return;
    }
    if (!briefId && !state.live.has(job.id)) return; // finished before the page opened
    state.writing.delete(job.id);
    state.live.delete(job.id);
    if (job.status === "failed" && briefId) {
      state.errors.set(briefId, `The storyboard was not written: ${job.error || "failed"}`);
    }
    load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("brief-form").addEventListener("submit", parse);
  });

  return { open, jobChanged };
};
