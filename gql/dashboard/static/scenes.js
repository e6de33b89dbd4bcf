// The storyboard editor: one storyboard written from a brief, its scenes as cards (a
// thumbnail of the scene's reference image, shot, duration, script, description). While
// it is a draft the person drags cards to reorder them, edits a scene, adds one, has the
// writer rewrite one scene with feedback, deletes one, and approves. Every edit names the
// version it was made on (`expectedVersion`): an edit made elsewhere first is refused
// with CONFLICT, and the editor reads the storyboard again. Once approved it is
// read-only and shows its render live: a bar per scene and one for the whole video,
// from the job's sub-jobs as app.js follows them, then the video.
// Loaded before briefs.js, which calls `reelgraphScenes(api)` once.
"use strict";

window.reelgraphScenes = (api) => {
  const SCENE_FIELDS = `id position description script shotType durationSeconds transition
    imagePrompt referenceAssets { id filename url thumbnail { url width height } }`;
  const BOARD_FIELDS = `id version status writer videoModel aspectRatio totalSeconds
    costEstimateUsd notes job { id status outputAsset { id kind url } }
    scenes { ${SCENE_FIELDS} }`;
  const ERROR = "... on Error { code field message }";
  const EDIT = (name, input) => `mutation($input: ${input}!) { ${name}(input: $input) {
    __typename ... on StoryboardPayload { storyboard { ${BOARD_FIELDS} } } ${ERROR} } }`;
  const Q = {
    board: `query($id: ID!) { node(id: $id) { ... on Storyboard { ${BOARD_FIELDS} } } }`,
    roles: `query($id: ID!) { node(id: $id) { ... on Job { subJobs { id index input } } } }`,
    update: EDIT("updateScene", "UpdateSceneInput"),
    add: EDIT("addScene", "AddSceneInput"),
    remove: EDIT("deleteScene", "DeleteSceneInput"),
    reorder: EDIT("reorderScenes", "ReorderScenesInput"),
    regenerate: EDIT("regenerateScene", "RegenerateSceneInput"),
    approve: `mutation($input: ApproveStoryboardInput!) { approveStoryboard(input: $input) {
      __typename ... on StoryboardRenderPayload { storyboard { ${BOARD_FIELDS} }
        job { ${api.jobFields} } } ${ERROR} } }`,
  };
  const SHOTS = ["WIDE", "MEDIUM", "CLOSE_UP", "EXTREME_CLOSE_UP", "OVERHEAD", "TRACKING", "POV"];
  const TRANSITIONS = [
    "none", "fade", "dissolve", "fadeblack", "wipeleft", "slideleft", "smoothleft", "circleopen",
  ];

  // storyboard id -> {data, box, busy, editing, regenerating, typed, error, roles}
  const boards = new Map();
  const { el, button } = window.reelgraphDom;
  const SCENE_DRAG = "application/x-reelgraph-scene"; // {storyboard, position}
  const NEW = "new"; // `board.editing` while the form for a scene to add is open

  // Whether `data` may replace what `board` shows: never an older version, nor an earlier
  // status of the same version (answers can arrive out of order; a storyboard only moves
  // forward: rendering a scene again leaves it RENDERED).
  const STAGES = ["DRAFT", "APPROVED", "RENDERING", "RENDERED"];
  function newer(board, data) {
    if (data.version !== board.data.version) return data.version > board.data.version;
    return STAGES.indexOf(data.status) >= STAGES.indexOf(board.data.status);
  }

  // A brief's box shows one storyboard, its newest: an older board that still gets answers
  // (its render ending, an edit replied to late) keeps them without drawing over it.
  const owns = (board) => board.box.owner === board;

  // Draw `data` (a Storyboard as the API gave it) into `box`; kept across redraws of the
  // brief it belongs to, so a form being filled in is not lost to an unrelated reload.
  function show(box, data) {
    let board = boards.get(data.id);
    if (!board) {
      board = {
        data, box, busy: false, editing: null, regenerating: null, typed: null, error: "",
        roles: null,
      };
      boards.set(data.id, board);
    }
    if (newer(board, data)) { // else a late answer: what is shown is newer
      const moved = board.data.version !== data.version || board.data.status !== data.status;
      if (moved) stopEditing(board); // the forms were for what it was
      board.data = data; // (the same version too: its details, the job, may be fresher)
    }
    board.box = box;
    box.owner = board;
    // drawn already (the box may instead show an older storyboard of the brief, or nothing)
    const shown = box.childElementCount > 0 && box.dataset.storyboardId === board.data.id &&
      box.dataset.version === String(board.data.version) &&
      box.dataset.status === board.data.status.toLowerCase();
    if (!shown) draw(board); // else as shown: keep what the person is typing
  }

  const draft = (board) => board.data.status === "DRAFT";
  const stopEditing = (board) => {
    board.editing = board.regenerating = board.typed = null;
  };
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function draw(board) {
    if (!owns(board)) return;
    const { data, box } = board;
    box.dataset.storyboardId = data.id;
    box.dataset.status = data.status.toLowerCase();
    box.dataset.version = String(data.version);
    const error = el("p", "sbx-error error", board.error);
    error.setAttribute("role", "alert");
    error.hidden = !board.error;
    // the focus before a save is given back once the save is done (buttons are off meanwhile)
    const active = document.activeElement;
    const idle = !active || active === document.body; // nothing else took the focus meanwhile
    const focus = focused(box) || (idle ? board.focus : null);
    board.focus = board.busy ? focus : null;
    box.replaceChildren(head(board), notes(board), cards(board), error, footer(board));
    refocus(box, focus);
    renderProgress(board);
  }

  // Every action redraws the box: the control that had the focus (the same button of the
  // same scene, wherever that scene now is) gets it back, and an opened form's first field
  // takes it, so a keyboard user goes on from where they were.
  function focused(box) {
    const active = document.activeElement;
    if (!active || !box.contains(active)) return null;
    const scene = active.closest(".scene");
    return { scene: scene ? scene.dataset.sceneId : null, className: active.className };
  }

  function refocus(box, focus) {
    const form = box.querySelector(".scene-form, .regenerate-form");
    if (form && focus && form.closest(".scene").dataset.sceneId === focus.scene) {
      form.querySelector("textarea, input").focus();
      return;
    }
    if (!focus || !focus.className) return;
    const scope = focus.scene ? box.querySelector(`.scene[data-scene-id="${CSS.escape(focus.scene)}"]`) : box;
    const target = scope && scope.querySelector(`.${focus.className.trim().split(/\s+/).map(CSS.escape).join(".")}`);
    if (target && !target.disabled) target.focus();
  }

  function head(board) {
    const { data } = board;
    const header = el("header", "sbx-head");
    const badge = el("span", "badge status", data.status.toLowerCase());
    badge.dataset.status = data.status === "RENDERED" ? "succeeded" : data.status.toLowerCase();
    header.append(
      el("strong", "", `Storyboard v${data.version}`),
      badge,
      el("span", "sbx-count muted", `${plural(data.scenes.length, "scene")} · ${data.totalSeconds} s`),
      el("span", "sbx-cost", `est ${api.usd(data.costEstimateUsd)}`),
      el("span", "muted", `${data.videoModel.split("/").pop()} · ${data.aspectRatio} · by ${data.writer}`),
    );
    return header;
  }

  function notes(board) {
    const list = el("ul", "sbx-notes muted");
    for (const note of board.data.notes) list.append(el("li", "", note));
    list.hidden = !board.data.notes.length;
    return list;
  }

  function thumbnail(scene) {
    const box = el("div", "scene-thumb");
    const asset = scene.referenceAssets[0];
    if (asset) {
      const img = el("img");
      img.src = asset.thumbnail ? asset.thumbnail.url : asset.url;
      img.alt = asset.filename;
      img.draggable = false;
      box.append(img);
      box.title = asset.filename;
    } else {
      box.append(el("span", "muted", "image from the prompt"));
      box.title = scene.imagePrompt;
    }
    return box;
  }

  function cards(board) {
    const ol = el("ol", "scenes");
    ol.setAttribute("aria-label", "Scenes");
    board.data.scenes.forEach((scene, i) => ol.append(card(board, scene, i)));
    if (draft(board) && board.editing === NEW) {
      const li = el("li", "scene scene-new");
      li.dataset.sceneId = NEW;
      li.append(addForm(board));
      ol.append(li);
    }
    return ol;
  }

  function card(board, scene, i) {
    const { scenes } = board.data;
    const li = el("li", "scene");
    li.dataset.sceneId = scene.id;
    li.dataset.position = String(i);
    const meta = el("p", "scene-meta");
    meta.append(
      el("span", "scene-pos", `#${i + 1}`),
      el("span", "scene-shot", scene.shotType.replaceAll("_", " ").toLowerCase()),
      el("span", "scene-duration", `${scene.durationSeconds} s`),
    );
    if (i < scenes.length - 1) meta.append(el("span", "scene-transition muted", `${scene.transition} →`));
    li.append(thumbnail(scene), meta);
    if (draft(board) && board.editing === scene.id) {
      li.append(editForm(board, scene));
      return li;
    }
    li.append(
      el("p", "scene-script", scene.script ? `“${scene.script}”` : ""),
      el("p", "scene-description muted", scene.description),
    );
    if (draft(board) && board.regenerating === scene.id) li.append(regenerateForm(board, scene));
    const bar = el("div", "bar scene-bar");
    bar.append(el("div", "fill"), el("span", "pct"));
    bar.hidden = true;
    li.append(bar);
    if (draft(board)) {
      li.draggable = !board.busy;
      dragAndDrop(board, li, i);
      li.append(tools(board, scene, i));
    }
    return li;
  }

  function tools(board, scene, i) {
    const { scenes } = board.data;
    const bar = el("div", "scene-tools");
    const move = (to) => () => reorder(board, i, to);
    const up = button("up ghost", "←", "Move earlier", move(i - 1));
    const down = button("down ghost", "→", "Move later", move(i + 1));
    up.disabled = board.busy || i === 0;
    down.disabled = board.busy || i === scenes.length - 1;
    const edit = button("edit ghost", "Edit", "Edit this scene", () => {
      stopEditing(board);
      board.editing = scene.id;
      draw(board);
    });
    const rewrite = button("regenerate ghost", "Rewrite", "Have the writer rewrite this scene", () => {
      stopEditing(board);
      board.regenerating = scene.id;
      draw(board);
    });
    const remove = button("delete ghost", "Delete", "Delete this scene", () =>
      send(board, Q.remove, { sceneId: scene.id }),
    );
    remove.disabled = board.busy || scenes.length === 1;
    for (const b of [edit, rewrite]) b.disabled = board.busy;
    bar.append(up, down, edit, rewrite, remove);
    return bar;
  }

  function field(label, control) {
    const wrap = el("label", "", label);
    wrap.append(control);
    return wrap;
  }

  function select(name, options, value) {
    const node = el("select");
    node.name = name;
    for (const option of options.includes(value) ? options : [value, ...options]) {
      node.add(new Option(option.replaceAll("_", " ").toLowerCase(), option));
    }
    node.value = value;
    return node;
  }

  // What the person typed into a scene's form, kept until it is saved or dropped: a
  // refused save (a length the model cannot render, say) redraws the form with it.
  const typedFor = (board, scene) =>
    board.typed && board.typed.sceneId === scene.id ? board.typed.values : null;

  // A scene's fields as form controls, starting from `scene` or from what was typed; an
  // added scene's form asks for its image prompt too (an edit keeps the scene's image).
  function sceneFields(board, scene, withPrompt) {
    const typed = typedFor(board, scene) || {};
    const start = (name) => (name in typed ? typed[name] : String(scene[name] ?? ""));
    const text = (name, rows, required) => {
      const area = el("textarea");
      Object.assign(area, { name, rows, value: start(name), required });
      return area;
    };
    const duration = el("input");
    Object.assign(duration, {
      name: "durationSeconds", type: "number", min: 1, max: 60, step: 1,
      value: start("durationSeconds"), required: true,
    });
    return [
      field("Description", text("description", 3, withPrompt)),
      ...(withPrompt ? [field("Image prompt", text("imagePrompt", 2, true))] : []),
      field("Script", text("script", 2, false)),
      field("Seconds", duration),
      field("Shot", select("shotType", SHOTS, start("shotType"))),
      field("Then", select("transition", TRANSITIONS, start("transition"))),
    ];
  }

  function editForm(board, scene) {
    const form = el("form", "scene-form");
    form.append(...sceneFields(board, scene, false), formButtons(board, "Save"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = new FormData(form);
      board.typed = { sceneId: scene.id, values: Object.fromEntries(values) };
      const input = { sceneId: scene.id };
      for (const name of ["description", "script", "shotType", "transition"]) {
        if (values.get(name) !== scene[name]) input[name] = values.get(name);
      }
      const seconds = Number(values.get("durationSeconds"));
      if (seconds !== scene.durationSeconds) input.durationSeconds = seconds;
      if (Object.keys(input).length === 1) {
        board.editing = null; // nothing changed: no new version
        draw(board);
        return;
      }
      send(board, Q.update, input);
    });
    return form;
  }

  // A new scene, added at the end (drag it where it belongs): it starts as long as the
  // last scene, a length the storyboard's model renders.
  function addForm(board) {
    const { scenes } = board.data;
    const last = scenes[scenes.length - 1];
    const blank = {
      id: NEW, description: "", imagePrompt: "", script: "", shotType: "MEDIUM",
      transition: "fade", durationSeconds: last ? last.durationSeconds : 4,
    };
    const form = el("form", "scene-form");
    form.setAttribute("aria-label", "New scene");
    form.append(...sceneFields(board, blank, true), formButtons(board, "Add"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      board.typed = { sceneId: NEW, values };
      send(board, Q.add, {
        ...values, storyboardId: board.data.id, durationSeconds: Number(values.durationSeconds),
      });
    });
    return form;
  }

  function regenerateForm(board, scene) {
    const form = el("form", "regenerate-form");
    const feedback = el("input");
    Object.assign(feedback, {
      name: "feedback", type: "text", required: true, maxLength: 2000,
      placeholder: "What should change? (e.g. closer on the product)",
      value: (typedFor(board, scene) || {}).feedback || "",
    });
    feedback.setAttribute("aria-label", "What should change");
    form.append(feedback, formButtons(board, "Rewrite"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      board.typed = { sceneId: scene.id, values: { feedback: feedback.value } };
      send(board, Q.regenerate, { sceneId: scene.id, feedback: feedback.value });
    });
    return form;
  }

  function formButtons(board, label) {
    const bar = el("span", "form-buttons");
    const submit = el("button", "save", board.busy ? "…" : label);
    submit.type = "submit";
    submit.disabled = board.busy;
    const cancel = button("cancel-edit ghost", "Cancel", "", () => {
      stopEditing(board);
      draw(board);
    });
    bar.append(submit, cancel);
    return bar;
  }

  // Drag a card onto another: it takes that card's place, and the rest move along.
  function dragAndDrop(board, li, i) {
    li.addEventListener("dragstart", (event) => {
      const scene = JSON.stringify({ storyboard: board.data.id, position: i });
      event.dataTransfer.setData(SCENE_DRAG, scene);
      event.dataTransfer.effectAllowed = "move";
      li.classList.add("dragging");
    });
    li.addEventListener("dragend", () => li.classList.remove("dragging"));
    // Only a scene card is a drop here (not a file or a link), and none while saving.
    const ours = (event) => !board.busy && event.dataTransfer.types.includes(SCENE_DRAG);
    li.addEventListener("dragover", (event) => {
      if (!ours(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      li.classList.add("drop-target");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-target"));
    li.addEventListener("drop", (event) => {
      li.classList.remove("drop-target");
      if (!ours(event)) return;
      event.preventDefault();
      let dragged = null;
      try {
        dragged = JSON.parse(event.dataTransfer.getData(SCENE_DRAG));
      } catch {
        return;
      }
      const from = dragged && dragged.storyboard === board.data.id ? dragged.position : null;
      if (Number.isInteger(from) && from >= 0 && from < board.data.scenes.length && from !== i) {
        reorder(board, from, i);
      }
    });
  }

  function reorder(board, from, to) {
    const ids = board.data.scenes.map((s) => s.id);
    const [moved] = ids.splice(from, 1);
    ids.splice(to, 0, moved);
    send(board, Q.reorder, { storyboardId: board.data.id, sceneIds: ids });
  }

  function footer(board) {
    const bar = el("div", "sbx-actions");
    const { data } = board;
    if (draft(board)) {
      const approve = button("approve", `Approve and render · ${api.usd(data.costEstimateUsd)}`, "",
        () => approveBoard(board));
      const open = board.editing || board.regenerating; // an unsaved change: saved or dropped first
      approve.disabled = board.busy || Boolean(open);
      const add = button("add-scene ghost", "Add scene", "Add a scene at the end", () => {
        stopEditing(board);
        board.editing = NEW;
        draw(board);
        const first = board.box.querySelector(".scene-new textarea");
        if (first) first.focus();
      });
      add.disabled = board.busy || Boolean(open);
      bar.append(approve, add);
      if (board.busy) bar.append(el("span", "muted", "saving…"));
      else if (open) bar.append(el("span", "muted", "Save or cancel the open scene to approve."));
      return bar;
    }
    const progress = el("div", "bar sbx-bar");
    progress.append(el("div", "fill"), el("span", "pct"));
    const note = el("span", "sbx-note muted");
    const output = el("div", "sbx-output");
    bar.append(progress, note, output);
    return bar;
  }

  async function mutate(board, query, input) {
    if (board.busy) return null; // one change at a time: each names the version it was made on
    board.busy = true;
    board.error = "";
    draw(board);
    let payload = null;
    try {
      const data = await api.gql(query, { input });
      payload = Object.values(data)[0];
    } catch (err) {
      board.error = `Not saved: ${api.errorText(err)}`;
    }
    board.busy = false;
    if (payload && payload.code) {
      const where = payload.field ? ` (${payload.field})` : "";
      board.error = `${payload.code}${where}: ${payload.message}`;
      if (payload.code === "CONFLICT") {
        const end = /[.!?]$/.test(board.error) ? "" : ".";
        board.error += `${end} Showing the latest version.`;
        stopEditing(board); // the form was for the stale version
        await reload(board);
      }
    }
    return payload && !payload.code ? payload : null;
  }

  async function send(board, query, input) {
    const payload = await mutate(board, query, { ...input, expectedVersion: board.data.version });
    if (payload) {
      stopEditing(board);
      if (newer(board, payload.storyboard)) board.data = payload.storyboard;
    }
    draw(board);
  }

  async function approveBoard(board) {
    const payload = await mutate(board, Q.approve, {
      storyboardId: board.data.id, expectedVersion: board.data.version,
    });
    if (payload) {
      stopEditing(board);
      board.data = payload.storyboard;
      // its card in the job list, followed live: unless the page has moved to another campaign
      if (boards.get(board.data.id) === board) api.adopt(payload.job);
    }
    draw(board);
  }

  async function reload(board) {
    try {
      const data = await api.gql(Q.board, { id: board.data.id });
      if (data.node && newer(board, data.node)) board.data = data.node;
    } catch (err) {
      board.error += ` (could not read it again: ${api.errorText(err)})`;
    }
  }

  // --- the render, live ----------------------------------------------------------------

  // Which sub-job renders what: `input.role` (image, clip, music) and `input.scene`.
  async function rolesOf(board, jobId) {
    if (board.roles && board.roles.jobId === jobId) return board.roles;
    board.roles = { jobId, bySub: null };
    try {
      const data = await api.gql(Q.roles, { id: jobId });
      board.roles.bySub = new Map(
        (data.node ? data.node.subJobs : []).map((s) => [s.id, s.input || {}]),
      );
    } catch {
      board.roles = null; // asked again at the next event
    }
    return board.roles;
  }

  function renderProgress(board) {
    const { data, box } = board;
    if (!data.job) return;
    const job = api.job(data.job.id);
    if (!job) {
      api.fetchJob(data.job.id); // not among the page's jobs yet: read it and follow it
      return;
    }
    const bar = box.querySelector(".sbx-bar");
    if (!bar) return;
    api.setBar(bar, api.progressOf(job), job.status);
    const note = box.querySelector(".sbx-note");
    const music = [...job.subs.values()].find((s) => roleOf(board, s).role === "music");
    const musicText = music ? ` · music ${api.pct(music.status === "succeeded" ? 1 : music.progress)}` : "";
    note.textContent = `${job.status.replace("_", " ")}${musicText}`;
    if (job.status === "failed" && job.error) note.textContent += `: ${job.error}`;
    perScene(board, job);
    showVideo(box.querySelector(".sbx-output"), job);
    if (!board.roles || board.roles.jobId !== job.id) {
      rolesOf(board, job.id).then(() => {
        if (boards.get(data.id) === board && owns(board)) perScene(board, api.job(job.id) || job);
      });
    }
  }

  const roleOf = (board, sub) =>
    (board.roles && board.roles.bySub && board.roles.bySub.get(sub.id)) || {};

  function perScene(board, job) {
    const subs = [...job.subs.values()];
    for (const li of board.box.querySelectorAll(".scene")) {
      const position = Number(li.dataset.position);
      const mine = subs.filter((s) => roleOf(board, s).scene === position);
      const bar = li.querySelector(".scene-bar");
      if (!bar || !mine.length) continue;
      const done = (s) => (s.status === "succeeded" ? 1 : s.progress || 0);
      const value = mine.reduce((sum, s) => sum + done(s), 0) / mine.length;
      const failed = mine.find((s) => s.status === "failed");
      const status = failed ? "failed" : mine.every((s) => s.status === "succeeded") ? "succeeded" : "running";
      bar.hidden = false;
      api.setBar(bar, value, status);
    }
  }

  function showVideo(box, job) {
    const asset = job.output;
    if (!asset || !asset.url || job.status !== "succeeded") return;
    if (box.dataset.assetId === asset.id) return;
    box.dataset.assetId = asset.id;
    const video = el("video", "sbx-video");
    Object.assign(video, { controls: true, muted: true, playsInline: true, preload: "metadata" });
    video.src = asset.url;
    box.replaceChildren(video);
  }

  // A job app.js holds changed: redraw the render of the storyboard it belongs to; read
  // the storyboard again when the render ends (RENDERED, or still RENDERING on failure).
  function jobChanged(job) {
    for (const board of boards.values()) {
      const mine = board.data.job && board.data.job.id === job.id;
      if (!mine || !owns(board) || !board.box.isConnected) continue;
      renderProgress(board);
      const final = ["succeeded", "failed", "canceled"].includes(job.status);
      if (final && board.data.job.status.toLowerCase() !== job.status) {
        board.data.job.status = job.status.toUpperCase();
        reload(board).then(() => draw(board));
      }
    }
  }

  return { fields: BOARD_FIELDS, boardQuery: Q.board, show, jobChanged, forget: () => boards.clear() };
};
