// The /ui page: it calls the API's own endpoints and shows what they answer. Everything the
// shop holds (names, ids, sentences) goes into the page as text (textContent) or into the
// graph's canvas, never as HTML, so a title cannot inject markup or script.
"use strict";

const COLOURS = { User: "#6d4c9f", Item: "#2f6fb0", Brand: "#c0692b", Category: "#3a8a4f",
                  Attribute: "#a8891b", Entity: "#777777" };
const CAPTION_CHARS = 40;
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("kgrec-key") || "", user: null, shown: [],
                title: null, selected: null, graph: null };

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

// One API call; the error it throws says what the API answered.
async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.key) headers["X-API-Key"] = state.key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = answer && (answer.message || answer.detail);
    const text = typeof detail === "string" ? detail : JSON.stringify(detail);
    throw new Error(`${response.status}: ${text || response.statusText}`);
  }
  return answer;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function caption(text) {
  return text.length > CAPTION_CHARS ? `${text.slice(0, CAPTION_CHARS - 1)}…` : text;
}

// The answer's items as buttons. Shown again (the same user's list, the same search), the
// list says what changed and marks the items that were not in it before "new".
function showItems(title, answer) {
  const before = new Set(state.shown.map((item) => item.item_id));
  const changed = state.title === title;
  state.shown = answer.items;
  state.title = title;
  $("list-title").textContent = title;
  const notes = [...answer.warnings];
  if (changed) {
    const now = new Set(answer.items.map((item) => item.item_id));
    const gone = [...before].filter((id) => !now.has(id)).length;
    const added = answer.items.filter((item) => !before.has(item.item_id)).length;
    notes.push(gone || added ? `The list changed: ${added} new, ${gone} gone.`
                             : "The list did not change.");
  }
  notes.push(`Model ${answer.model}, strategy ${answer.strategy}.`);
  $("list-note").textContent = notes.join(" ");
  const list = $("items");
  list.replaceChildren();
  for (const item of answer.items) {
    const button = element("button");
    button.type = "button";
    button.dataset.item = item.item_id;
    button.setAttribute("aria-pressed", "false");
    button.append(element("span", item.name || `(no name) ${item.item_id}`, "name"));
    if (changed && !before.has(item.item_id)) button.append(element("span", "new", "new"));
    button.append(element("span", ` ${item.item_id} · score ${item.score}`, "meta"));
    button.addEventListener("click", () => select(item));
    const entry = element("li");
    entry.append(button);
    list.append(entry);
  }
  const keep = answer.items.find((item) => item.item_id === state.selected);
  if (keep || answer.items.length) select(keep || answer.items[0]);
  else clearWhy();
}

function clearWhy() {
  state.selected = null;
  $("why-title").textContent = "Why";
  $("sentences").replaceChildren();
  if (state.graph) state.graph.destroy();
  state.graph = null;
  $("graph").setAttribute("aria-label", "no explanation drawn yet");
}

function select(item) {
  state.selected = item.item_id;
  for (const button of document.querySelectorAll("#items button")) {
    button.setAttribute("aria-pressed", String(button.dataset.item === item.item_id));
  }
  $("event-item").value = item.item_id;
  $("why-title").textContent = `Why ${item.name || item.item_id}`;
  const sentences = $("sentences");
  sentences.replaceChildren();
  const explanations = item.explanations || [];
  if (item.explanations === null) {
    sentences.append(element("li", "No explanations: Neo4j could not be reached."));
  } else if (!explanations.length) {
    sentences.append(element("li", "No graph path leads to this item."));
  }
  for (const explanation of explanations) {
    const entry = element("li", explanation.sentence);
    entry.append(element("code", explanation.cypher));
    sentences.append(entry);
  }
  draw(explanations);
}

// The explanations' paths as one graph: a node a path shares with another is drawn once
// (another customer, who has no id, once per path), each stored edge in its own direction.
// Rows top-down follow the paths: where they start, the items between, the recommended item
// alone in the last row.
function graphElements(explanations) {
  const nodes = new Map();
  const edges = new Map();
  const rows = Math.max(...explanations.map((e) => e.path.nodes.length));
  explanations.forEach((explanation, p) => {
    const path = explanation.path;
    const keys = path.nodes.map((node, n) => {
      const key = node.id === null ? `anonymous ${p} ${n}` : `${node.label} ${node.id}`;
      const you = n === 0 && node.label === "User";
      const name = you ? `you (${node.id})` : node.name || node.id;
      const last = n === path.nodes.length - 1;
      if (!nodes.has(key)) nodes.set(key, { data: { id: key, label: node.label, name }, row: n });
      const drawn = nodes.get(key);
      drawn.row = last ? rows - 1 : Math.max(drawn.row, n);
      if (last) drawn.classes = "target";
      return key;
    });
    for (const rel of path.relationships) {
      const type = rel.kind || rel.relation || rel.type.toLowerCase().replaceAll("_", " ");
      const source = keys[rel.start];
      const target = keys[rel.end];
      const id = `${source}|${type}|${target}`;
      edges.set(id, { data: { id, source, target, type } });
    }
  });
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

// Each node's place: its row, and side by side within it.
function positions(nodes) {
  const byRow = new Map();
  for (const node of nodes) byRow.set(node.row, [...(byRow.get(node.row) || []), node]);
  const placed = {};
  for (const [row, members] of byRow) {
    members.forEach((node, i) => {
      placed[node.data.id] = { x: (i - (members.length - 1) / 2) * 200, y: row * 110 };
    });
  }
  return placed;
}

function draw(explanations) {
  if (state.graph) state.graph.destroy();
  const { nodes, edges } = graphElements(explanations);
  const box = $("graph");
  box.setAttribute("aria-label", nodes.length
    ? `Explanation graph: ${nodes.length} nodes (${nodes.map((n) => n.data.name).join("; ")}),`
      + ` ${edges.length} links`
    : "no explanation drawn");
  const placed = positions(nodes);
  state.graph = cytoscape({
    container: box,
    elements: [...nodes.map(({ data, classes }) => ({ data, classes: classes || "" })), ...edges],
    style: [
      { selector: "node", style: {
        label: (node) => caption(String(node.data("name"))),
        "background-color": (node) => COLOURS[node.data("label")] || "#999",
        "font-size": 14, "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "wrap",
        "text-max-width": "140px", width: 26, height: 26 } },
      { selector: "node.target", style: { "border-width": 4, "border-color": "#e0b000" } },
      { selector: "edge", style: {
        label: "data(type)", "font-size": 11, color: "#444", "text-rotation": "autorotate",
        "text-background-color": "#fff", "text-background-opacity": 0.8,
        "curve-style": "bezier", "target-arrow-shape": "triangle", width: 1.5,
        "line-color": "#99a", "target-arrow-color": "#99a" } },
    ],
    layout: { name: "preset", positions: (node) => placed[node.id()], padding: 30 },
    userZoomingEnabled: true,
    wheelSensitivity: 0.3,
  });
}

async function recommend() {
  const user = $("user").value.trim();
  if (!user) return;
  state.user = user;
  setStatus(`Recommendations for ${user}…`);
  const answer = await call("GET", `/users/${encodeURIComponent(user)}/recommendations?k=10`);
  showItems(`Recommendations for ${user}`, answer);
  setStatus(`${answer.items.length} recommendations for ${user}.`);
}

async function search() {
  const query = $("query").value.trim();
  const params = new URLSearchParams({ q: query, k: "10" });
  if (state.user) params.set("user_id", state.user);
  setStatus(`Searching for ${query}…`);
  const answer = await call("GET", `/search?${params}`);
  showItems(`Search: ${query}`, answer);
  setStatus(`${answer.items.length} items for "${query}".`);
}

async function addEvent() {
  if (!state.user) throw new Error("pick a user first: the event is theirs");
  const event = { user_id: state.user, item_id: $("event-item").value.trim(),
                  kind: $("event-kind").value };
  const rating = $("event-rating").value;
  if (rating !== "") event.rating = Number(rating);
  await call("POST", "/events", { events: [event] });
  setStatus(`Recorded: ${state.user} ${event.kind} ${event.item_id}. Recommending again…`);
  const answer = await call("GET",
    `/users/${encodeURIComponent(state.user)}/recommendations?k=10`);
  showItems(`Recommendations for ${state.user}`, answer);
  setStatus(`Recorded ${event.kind} of ${event.item_id}. ${$("list-note").textContent}`);
}

async function addItem() {
  const item = { id: $("item-id").value.trim(), title: $("item-title").value.trim() };
  const brand = $("item-brand").value.trim();
  const categories = $("item-categories").value.split(">").map((c) => c.trim()).filter(Boolean);
  const description = $("item-description").value.trim();
  if (brand) item.brand = brand;
  if (categories.length) item.categories = categories;
  if (description) item.description = description;
  const added = await call("POST", "/items", item);
  setStatus(`${added.created ? "Added" : "Updated"} ${added.item_id} (embedding `
            + `${added.embedding}; brands: ${added.brands.join(", ") || "none"}; attributes: `
            + `${added.attributes.join(", ") || "none"}).`);
  if (state.user) await recommend();
}

async function loadUsers() {
  const users = await call("GET", "/admin/users?k=200");
  const options = $("known-users");
  options.replaceChildren(...users.map((user) => {
    const option = element("option");
    option.value = user.id;
    option.label = `${user.items} items`;
    return option;
  }));
  setStatus(`${users.length} users to pick from: click the user field.`);
}

// Each form runs its action and reports any failure in the status line.
function on(id, event, action) {
  $(id).addEventListener(event, (e) => {
    e.preventDefault();
    action().catch((error) => setStatus(error.message, true));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("key").value = state.key;
  on("key-form", "submit", async () => {
    state.key = $("key").value.trim();
    sessionStorage.setItem("kgrec-key", state.key);
    setStatus(state.key ? "The key goes with every request." : "No key: reads only.");
  });
  on("user-form", "submit", recommend);
  on("search-form", "submit", search);
  on("event-form", "submit", addEvent);
  on("item-form", "submit", addItem);
  on("load-users", "click", loadUsers);
  const user = new URLSearchParams(window.location.search).get("user");
  if (user) {
    $("user").value = user;
    recommend().catch((error) => setStatus(error.message, true));
  }
});
