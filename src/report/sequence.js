// Draws the run embedded in #weft-run as a sequence diagram. Text goes in with
// textContent only: payloads are peer bytes.
"use strict";
(function () {
  let errors = 0;
  window.addEventListener("error", function () {
    errors += 1;
    document.body.dataset.errors = String(errors);
  });
  document.body.dataset.errors = "0";

  const run = JSON.parse(document.getElementById("weft-run").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const GAP = 20, TOP = 12, AXIS = 110, HEAD = 42;
  const laneW = run.hosts.length <= 6 ? 240 : 150;
  // The last lane keeps room for its notes.
  const width = AXIS + laneW * (run.hosts.length + 0.5) + 10;
  const t0 = run.events.length ? run.events[0].t : 0;
  const t1 = run.events.length ? run.events[run.events.length - 1].t : 0;
  const seconds = Math.max((t1 - t0) / 1e9, 1e-6);
  const fit = Math.max(run.events.length, 1) * GAP / seconds;
  let scale = fit;
  let selected = null;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, content, cls, anchor) {
    const node = el("text", { x: x, y: y }, parent);
    if (cls) node.setAttribute("class", cls);
    if (anchor) node.setAttribute("text-anchor", anchor);
    node.textContent = content;
    return node;
  }
  function laneX(i) { return AXIS + laneW * (i + 0.5); }
  function fmt(ns) { return (ns / 1e9).toFixed(6); }
  function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }
  const noteChars = Math.floor((laneW - 14) / 6.6);

  function show(title, body, node) {
    if (selected) selected.classList.remove("selected");
    selected = node;
    if (node) node.classList.add("selected");
    document.getElementById("detail-title").textContent = title;
    document.getElementById("detail-body").textContent = body;
    document.getElementById("detail").hidden = false;
  }
  document.getElementById("close").addEventListener("click", function () {
    document.getElementById("detail").hidden = true;
    if (selected) selected.classList.remove("selected");
  });

  function rows() {
    const ys = [];
    let y = TOP;
    run.events.forEach(function (e, i) {
      const linear = TOP + ((e.t - t0) / 1e9) * scale;
      y = i === 0 ? TOP : Math.max(y + GAP, linear);
      ys.push(y);
    });
    return ys;
  }

  function header() {
    const svg = el("svg", { id: "lanes", width: width, height: HEAD });
    run.hosts.forEach(function (h, i) {
      text(svg, laneX(i), 17, h.name, "lane-name");
      text(svg, laneX(i), 32, h.ip, "lane-ip");
    });
    return svg;
  }

  function draw() {
    const main = document.getElementById("diagram");
    main.textContent = "";
    main.appendChild(header());
    const ys = rows();
    const height = (ys.length ? ys[ys.length - 1] : TOP) + 40;
    const svg = el("svg", { width: width, height: height }, main);
    const defs = el("defs", {}, svg);
    const head = el("marker", { id: "head", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#0969da" }, head);
    const layers = {};
    ["axis", "bands", "lanes", "faults", "marks", "arrows"].forEach(function (name) {
      layers[name] = el("g", { class: name }, svg);
    });
    run.hosts.forEach(function (h, i) {
      el("line", { class: "lane", x1: laneX(i), x2: laneX(i), y1: 0, y2: height }, layers.lanes);
    });
    let lastLabel = -1e9, lastT = null;
    ys.forEach(function (y, i) {
      const t = run.events[i].t;
      if (t !== lastT && y - lastLabel >= 14) {
        text(layers.axis, AXIS - 12, y + 4, fmt(t));
        el("line", { x1: AXIS - 8, x2: width, y1: y, y2: y }, layers.axis);
        lastLabel = y;
      }
      lastT = t;
    });
    run.bands.forEach(function (b) {
      const y1 = ys[b.from], y2 = b.to === null ? height - 10 : ys[b.to];
      const g = el("g", { class: "band " + b.kind }, layers.bands);
      b.lanes.forEach(function (l) {
        const r = el("rect", { class: "band " + b.kind, x: laneX(l) - laneW / 2 + 6, y: y1,
          width: laneW - 12, height: Math.max(y2 - y1, 4), rx: 3 }, g);
        el("title", {}, r).textContent = b.text + (b.to === null ? " (until the end)" : "");
      });
    });
    run.events.forEach(function (e, i) { event(layers, e, ys[i]); });
    const arrows = svg.querySelectorAll(".arrow.data").length;
    document.body.dataset.lanes = String(run.hosts.length);
    document.body.dataset.arrows = String(arrows);
    document.body.dataset.bands = String(layers.bands.childNodes.length);
    document.getElementById("scale").textContent =
      (scale / fit).toFixed(2) + "× (" + Math.round(scale) + " px/s)";
  }

  function arrow(layer, e, y, cls) {
    const from = laneX(e.from), to = laneX(e.lane);
    const g = el("g", { class: "arrow " + cls }, layer);
    if (e.from === e.lane) {
      el("polyline", { points: [from, y - 6, from + 28, y - 6, from + 28, y, from + 2, y].join(" "),
        fill: "none", stroke: "#0969da", "marker-end": "url(#head)" }, g);
    } else {
      el("line", { x1: from, y1: y - 4, x2: to, y2: y, "marker-end": "url(#head)" }, g);
      el("line", { class: "hit", x1: from, y1: y - 10, x2: to, y2: y - 6 }, g);
    }
    const label = cls === "data" ? e.len + " B  " + e.text : "FIN";
    const room = Math.max(Math.floor(Math.abs(to - from) / 6.6) - 2, 12);
    text(g, (from + to) / 2, y - 8, clip(label, room), null, "middle");
    el("title", {}, g).textContent = fmt(e.t) + "  " + e.who;
    return g;
  }

  function note(layer, e, y, cls) {
    const node = text(layer, laneX(e.lane) + 8, y + 4, clip(e.text, noteChars), "note " + cls);
    el("title", {}, node).textContent = e.text;
    node.addEventListener("click", function () { show(fmt(e.t) + "  " + e.who, e.text, null); });
    return node;
  }

  function event(layers, e, y) {
    if (e.kind === "data") {
      const g = arrow(layers.arrows, e, y, "data");
      g.addEventListener("click", function () {
        show(fmt(e.t) + " s  " + e.who + "  " + e.len + " B", e.payload, g);
      });
      return;
    }
    if (e.kind === "eof") { arrow(layers.arrows, e, y, "eof"); return; }
    if (e.kind === "fault") {
      const g = el("g", { class: "fault" }, layers.faults);
      const x = e.lane === null ? AXIS : laneX(e.lane) - laneW / 2;
      const x2 = e.lane === null ? width : laneX(e.lane) + laneW / 2;
      el("line", { class: "fault-line", x1: x, x2: x2, y1: y, y2: y }, g);
      text(g, x + 4, y - 3, "⚡ " + e.text);
      return;
    }
    if (e.lane === null) return;
    const x = laneX(e.lane);
    const g = el("g", { class: "mark " + e.kind + (e.kind === "lost" ? " " + e.text : "") },
      layers.marks);
    if (e.kind === "open") {
      el("circle", { cx: x, cy: y, r: 4 }, g);
      text(g, x + 8, y + 4, "open " + e.who);
    } else if (e.kind === "lost") {
      if (e.text === "reset" || e.text === "aborted") {
        el("path", { d: "M" + (x - 5) + "," + (y - 5) + " l10,10 m0,-10 l-10,10" }, g);
      } else {
        el("rect", { x: x - 4, y: y - 4, width: 8, height: 8 }, g);
      }
      text(g, x + 8, y + 4, e.text + " " + e.who);
    } else {
      const cls = e.kind === "line" && e.text.startsWith("log") ? "log" : e.kind;
      note(g, e, y, cls);
    }
  }

  function zoom(factor) {
    const main = document.getElementById("diagram");
    const middle = (main.scrollTop + main.clientHeight / 2) / Math.max(main.scrollHeight, 1);
    scale = Math.min(Math.max(scale * factor, fit / 1e4), fit * 1e4);
    draw();
    main.scrollTop = middle * main.scrollHeight - main.clientHeight / 2;
  }
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(0.5); });
  document.getElementById("zoom-fit").addEventListener("click", function () {
    scale = fit; draw();
  });
  document.getElementById("diagram").addEventListener("wheel", function (ev) {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });
  draw();
  // `#read-N` opens the Nth read (from 1), so a link can point at one.
  const linked = /^#read-(\d+)$/.exec(window.location.hash);
  if (linked) {
    const arrow = document.querySelectorAll(".arrow.data")[Number(linked[1]) - 1];
    if (arrow) arrow.dispatchEvent(new MouseEvent("click"));
  }
})();
