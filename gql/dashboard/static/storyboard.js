// The storyboard of a pair video that waits for approval: its pairs (first and last frame,
// score, reason, estimate) as the person edits them (reorder, replace a frame with
// another image of the campaign, drop), then approveJob with the edited pairs, or
// rejectJob. Loaded before app.js, which calls `reelgraphStoryboard(api)` once.
"use strict";

window.reelgraphStoryboard = (api) => {
  const MUTATION = (name, input) => `mutation($input: ${input}!) { ${name}(input: $input) {
    __typename ... on JobPayload { job { ${api.jobFields} } }
    ... on Error { code field message } } }`;
  const APPROVE = MUTATION("approveJob", "ApproveJobInput");
  const REJECT = MUTATION("rejectJob", "JobInput");
  const drafts = new Map(); // job id -> the person's edit of that job's storyboard
  const { el, button } = window.reelgraphDom;

  const frameId = (asset) => (asset ? asset.id : "");
  const signature = (pairs) => pairs.map((p) => `${frameId(p.first)}>${frameId(p.last)}`).join(",");
  const sum = (pairs) => pairs.reduce((total, p) => total + Number(p.cost || 0), 0);

  function draftOf(job) {
    const pairs = (job.storyboard || []).map((p) => ({
      first: p.firstAsset, last: p.lastAsset, score: p.score, reason: p.reason,
      cost: p.costUsd, replaced: false,
    }));
    const base = signature(pairs);
    let draft = drafts.get(job.id);
    if (!draft || draft.base !== base) { // new, or the server's storyboard changed: start over
      draft = {
        base, original: pairs, pairs: pairs.slice(), picking: null, busy: false, error: "",
      };
      drafts.set(job.id, draft);
    }
    return draft;
  }

  const edited = (draft) => signature(draft.pairs) !== draft.base;
  // Draw again from the job as the page holds it now (a live event may have replaced it).
  const redraw = (job, card) => render(api.job(job.id) || job, card);

  function render(job, card) {
    const box = card.querySelector(".storyboard");
    if (job.status !== "awaiting_approval" || !job.storyboard) {
      box.hidden = true;
      box.replaceChildren();
      drafts.delete(job.id);
      return;
    }
    const draft = draftOf(job);
    box.hidden = false;
    box.dataset.edited = String(edited(draft));
    box.replaceChildren(head(draft), list(job, card, draft));
    if (draft.picking) box.append(picker(job, card, draft));
    const error = el("p", "sb-error error", draft.error);
    error.setAttribute("role", "alert");
    error.hidden = !draft.error;
    box.append(error, actions(job, card, draft));
  }

  function head(draft) {
    const header = el("header", "sb-head");
    const n = draft.pairs.length;
    header.append(
      el("strong", "", "Storyboard"),
      el("span", "sb-count muted", `${n} clip${n === 1 ? "" : "s"}`),
      el("span", "sb-total", `est ${api.usd(sum(draft.pairs))}`),
    );
    if (edited(draft)) {
      header.append(el("span", "sb-was muted", `(was ${api.usd(sum(draft.original))})`));
    }
    return header;
  }

  function thumb(asset, which, onClick) {
    const frame = button(`frame ${which}`, undefined, `Replace the ${which} frame`, onClick);
    if (asset && asset.url) {
      const img = el("img");
      img.src = asset.url;
      img.alt = `${which} frame`;
      frame.append(img);
    } else {
      frame.append(el("span", "missing", "missing"));
    }
    frame.dataset.assetId = frameId(asset);
    return frame;
  }

  function reasonOf(pair) {
    const text = pair.replaced ? "a frame replaced by you" : pair.reason || "";
    const span = el("span", "sb-reason muted", text);
    span.title = text;
    return span;
  }

  function list(job, card, draft) {
    const ol = el("ol", "sb-pairs");
    draft.pairs.forEach((pair, i) => {
      const li = el("li", "sb-pair");
      li.dataset.firstId = frameId(pair.first);
      li.dataset.lastId = frameId(pair.last);
      const pick = (which) => () => {
        draft.picking = { index: i, which };
        redraw(job, card);
      };
      const move = (to) => () => {
        const [moved] = draft.pairs.splice(i, 1);
        draft.pairs.splice(to, 0, moved);
        draft.picking = null;
        redraw(job, card);
      };
      const up = button("up ghost", "↑", "Move up", move(i - 1));
      const down = button("down ghost", "↓", "Move down", move(i + 1));
      up.disabled = i === 0 || draft.busy;
      down.disabled = i === draft.pairs.length - 1 || draft.busy;
      const drop = button("drop ghost", "Drop", "Drop this pair", () => {
        draft.pairs.splice(i, 1);
        draft.picking = null;
        redraw(job, card);
      });
      drop.disabled = draft.busy;
      const tools = el("span", "sb-tools");
      tools.append(up, down, drop);
      const score = pair.replaced
        ? "your pick"
        : pair.score === null ? "–" : `score ${Number(pair.score).toFixed(2)}`;
      li.append(
        el("span", "sb-pos muted", `#${i + 1}`),
        thumb(pair.first, "first", pick("first")),
        el("span", "arrow muted", "→"),
        thumb(pair.last, "last", pick("last")),
        el("span", "sb-score", score),
        reasonOf(pair),
        el("span", "sb-cost", api.usd(pair.cost)),
        tools,
      );
      ol.append(li);
    });
    return ol;
  }

  function picker(job, card, draft) {
    const { index, which } = draft.picking;
    const box = el("div", "sb-picker");
    const grid = el("div", "sb-images");
    box.append(
      el("p", "muted", `Pick the new ${which} frame of #${index + 1}:`),
      grid,
      button("ghost sb-pick-cancel", "Cancel", "", () => {
        draft.picking = null;
        redraw(job, card);
      }),
    );
    grid.append(el("span", "muted", "loading images…"));
    api.campaignImages().then(
      (images) => {
        grid.replaceChildren();
        const current = draft.pairs[index] && draft.pairs[index][which];
        for (const image of images) {
          const choice = button("sb-image", undefined, image.filename, () => {
            const frame = { id: image.id, url: image.url };
            draft.pairs[index] = { ...draft.pairs[index], [which]: frame, replaced: true };
            draft.picking = null;
            redraw(job, card);
          });
          choice.dataset.assetId = image.id;
          if (current && current.id === image.id) choice.dataset.current = "true";
          const img = el("img");
          img.src = image.url;
          img.alt = image.filename;
          choice.append(img);
          grid.append(choice);
        }
        if (!images.length) grid.append(el("span", "muted", "This campaign has no images."));
      },
      (err) => {
        const text = `Could not load the images: ${api.errorText(err)}`;
        grid.replaceChildren(el("span", "error", text));
      },
    );
    return box;
  }

  function actions(job, card, draft) {
    const bar = el("div", "sb-actions");
    const n = draft.pairs.length;
    const label = n ? `Approve ${n} clip${n === 1 ? "" : "s"}` : "Approve";
    const approve = button("approve", label, "", () => send(job, card, draft, true));
    approve.disabled = draft.busy || n === 0;
    approve.title = n ? "Render these clips" : "Keep at least one pair";
    const reject = button("reject danger", "Reject", "", () => send(job, card, draft, false));
    reject.disabled = draft.busy;
    const reset = button("reset ghost", "Undo changes", "", () => {
      draft.pairs = draft.original.slice();
      draft.picking = null;
      draft.error = "";
      redraw(job, card);
    });
    reset.hidden = !edited(draft);
    bar.append(approve, reject, reset);
    return bar;
  }

  async function send(job, card, draft, approving) {
    draft.busy = true;
    draft.error = "";
    redraw(job, card);
    const input = { jobId: job.id };
    // Unedited, the storyboard is approved as it is and keeps the selector's scores.
    if (approving && edited(draft)) {
      input.pairs = draft.pairs.map((p) => ({
        firstAssetId: frameId(p.first),
        lastAssetId: frameId(p.last),
      }));
    }
    let payload = null;
    try {
      const data = await api.gql(approving ? APPROVE : REJECT, { input });
      payload = approving ? data.approveJob : data.rejectJob;
    } catch (err) {
      draft.error = `${approving ? "Approve" : "Reject"} failed: ${api.errorText(err)}`;
    }
    draft.busy = false;
    if (payload && payload.__typename === "JobPayload") {
      drafts.delete(job.id);
      api.adopt(payload.job);
      return;
    }
    if (payload) {
      const field = payload.field ? ` (${payload.field})` : "";
      const what = approving ? "Not approved" : "Not rejected";
      draft.error = `${what}: ${payload.code}${field}: ${payload.message}`;
    }
    redraw(job, card);
  }

  return { render, forget: () => drafts.clear() };
};
