// The browser side of nnlib's DrawPad (nnlib/drawpad/pad.py explains the whole widget).
//
// This file only draws and displays. Pointer events (mouse, pen, touch) paint strokes on a
// canvas; when a stroke ends, the canvas goes to Python as one PNG ("drawing"). Python answers
// with the prediction, the probabilities, the hidden activations and the 28 x 28 preview, and
// this file shows them. Nothing is loaded from the network: no imports, no fonts, no images.

const INK = "rgb(26, 32, 44)";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(p) {
  return p >= 0.995 ? "100%" : p < 0.005 ? "0%" : `${Math.round(100 * p)}%`;
}

// blue (negative) - white (0) - red (positive), for weights; t in [-1, 1]
function diverging(t) {
  const s = Math.max(-1, Math.min(1, t));
  const [r, g, b] = s >= 0 ? [178, 24, 43] : [33, 102, 172];
  const a = Math.abs(s);
  return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a].map(Math.round);
}

// light grey (0) to the course blue (the layer's largest value), for activations
function sequential(t) {
  const s = Math.max(0, Math.min(1, t));
  const [r0, g0, b0] = [238, 241, 246];
  const [r1, g1, b1] = [1, 115, 178];
  return `rgb(${Math.round(r0 + (r1 - r0) * s)}, ${Math.round(g0 + (g1 - g0) * s)}, ` +
         `${Math.round(b0 + (b1 - b0) * s)})`;
}

function paintPixels(canvas, values, rows, columns, colour) {
  canvas.width = columns;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const picture = context.createImageData(columns, rows);
  values.forEach((value, i) => {
    const [r, g, b] = colour(value);
    picture.data.set([r, g, b, 255], 4 * i);
  });
  context.putImageData(picture, 0, 0);
}

// --- the pad: canvas, strokes, brush, undo, clear, test digit ----------------------------------

function makePad(model) {
  const size = model.get("size");
  const box = element("div", "dp-pad");
  const canvas = element("canvas", "dp-canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "drawing pad: draw a digit with the mouse, a pen or a finger");
  const context = canvas.getContext("2d");
  const hint = element("div", "dp-hint", "draw a digit here");
  const surface = element("div", "dp-surface");
  surface.append(canvas, hint);

  const tools = element("div", "dp-tools");
  const brushLabel = element("label", "dp-brush");
  const brushText = element("span");
  const brushSlider = element("input");
  Object.assign(brushSlider, { type: "range", min: 6, max: 44, step: 1 });
  brushSlider.value = model.get("brush");
  brushLabel.append(brushText, brushSlider);
  const undo = element("button", "dp-button", "Undo");
  const clear = element("button", "dp-button", "Clear");
  const testDigit = element("button", "dp-button", "Show a test digit");
  testDigit.hidden = !model.get("has_test_digits");
  tools.append(brushLabel, undo, clear, testDigit);
  const caption = element("div", "dp-caption");
  box.append(surface, tools, caption);

  let layers = [];          // what is on the canvas, oldest first: strokes and pictures
  let stroke = null;        // the stroke being drawn
  let lastDrawing = model.get("drawing");

  function paintStroke(s) {
    context.strokeStyle = INK;
    context.fillStyle = INK;
    context.lineWidth = s.brush;
    context.lineCap = "round";
    context.lineJoin = "round";
    if (s.points.length === 1) {
      const [x, y] = s.points[0];
      context.beginPath();
      context.arc(x, y, s.brush / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.beginPath();
    context.moveTo(...s.points[0]);
    s.points.slice(1).forEach(point => context.lineTo(...point));
    context.stroke();
  }

  function repaint() {
    context.clearRect(0, 0, size, size);
    layers.forEach(layer => layer.picture
      ? context.drawImage(layer.picture, 0, 0, size, size) : paintStroke(layer));
    if (stroke) paintStroke(stroke);
    refreshTools();
  }

  function refreshTools() {
    brushText.textContent = `brush ${model.get("brush")} px`;
    undo.disabled = layers.length === 0;
    clear.disabled = layers.length === 0;
    hint.hidden = layers.length > 0 || stroke !== null;
    const label = model.get("test_label");
    caption.textContent = layers.length && layers[0].picture && label >= 0
      ? `MNIST test digit, labelled ${label}` : "";
  }

  function send() {  // once per stroke: the whole canvas as a PNG, "" when empty
    lastDrawing = layers.length ? canvas.toDataURL("image/png") : "";
    model.set("drawing", lastDrawing);
    model.save_changes();
  }

  function position(event) {
    const bounds = canvas.getBoundingClientRect();
    return [(event.clientX - bounds.left) * size / bounds.width,
            (event.clientY - bounds.top) * size / bounds.height];
  }

  canvas.addEventListener("pointerdown", event => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    stroke = { brush: model.get("brush"), points: [position(event)] };
    repaint();
  });
  canvas.addEventListener("pointermove", event => {
    if (!stroke) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    (events.length ? events : [event]).forEach(e => stroke.points.push(position(e)));
    repaint();
  });
  function endStroke() {
    if (!stroke) return;
    layers.push(stroke);
    stroke = null;
    repaint();
    send();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  brushSlider.addEventListener("input", () => {
    model.set("brush", Number(brushSlider.value));
    model.save_changes();
    refreshTools();
  });
  undo.addEventListener("click", () => { layers.pop(); repaint(); send(); });
  clear.addEventListener("click", () => { layers = []; repaint(); send(); });
  testDigit.addEventListener("click", () => {
    model.set("test_digit_requests", model.get("test_digit_requests") + 1);
    model.save_changes();
  });

  // A drawing set from Python (a test digit, pad.draw(...)) replaces what is on the canvas.
  function adoptDrawing() {
    const drawing = model.get("drawing");
    if (drawing === lastDrawing) return;
    lastDrawing = drawing;
    layers = [];
    if (!drawing) { repaint(); return; }
    const picture = new Image();
    picture.onload = () => { layers = [{ picture }]; repaint(); };
    picture.src = drawing;
  }
  if (lastDrawing) { lastDrawing = null; adoptDrawing(); }
  model.on("change:drawing", adoptDrawing);
  model.on("change:brush", () => { brushSlider.value = model.get("brush"); refreshTools(); });
  model.on("change:test_label", refreshTools);
  repaint();
  return box;
}

// --- what the network reads: the digit, one bar per class, the temperature -------------------

function makeReadout(model) {
  const box = element("div", "dp-readout");
  box.classList.toggle("dp-no-network", !model.get("has_network"));
  const head = element("div", "dp-head");
  const verdict = element("div", "dp-verdict");
  const seen = element("figure", "dp-seen");
  const preview = element("canvas", "dp-preview");
  seen.append(preview, element("figcaption", "", "what the network sees (28 × 28)"));
  head.append(verdict, seen);

  const bars = element("div", "dp-bars");
  bars.setAttribute("role", "list");
  const columns = [...Array(10).keys()].map(digit => {
    const column = element("div", "dp-bar");
    column.setAttribute("role", "listitem");
    const value = element("span", "dp-bar-value");
    const track = element("div", "dp-bar-track");
    const before = element("div", "dp-bar-before");
    const fill = element("div", "dp-bar-fill");
    track.append(fill, before);
    column.append(value, track, element("span", "dp-bar-digit", String(digit)));
    bars.append(column);
    return { column, value, fill, before };
  });
  const legend = element("div", "dp-legend");

  const temperature = element("label", "dp-temperature");
  const temperatureText = element("span");
  const temperatureSlider = element("input");
  // the slider moves log10(T) from -1 to 1: T from 0.1 to 10, with 1 in the middle
  Object.assign(temperatureSlider, { type: "range", min: -1, max: 1, step: 0.05 });
  temperatureSlider.value = Math.log10(model.get("temperature"));
  temperature.append(temperatureText, temperatureSlider);
  temperatureSlider.addEventListener("input", () => {
    const t = Math.round(100 * Math.pow(10, Number(temperatureSlider.value))) / 100;
    model.set("temperature", t);
    model.save_changes();
  });
  box.append(head, bars, legend, temperature);

  function refresh() {
    const digit = model.get("prediction");
    const message = model.get("message");
    const p = model.get("probabilities");
    const off = model.get("probabilities_unit_off");
    const shown = off.length ? off : p;
    verdict.replaceChildren();
    if (digit < 0 || !p.length) {
      verdict.append(element("div", "dp-empty", message || "Draw a digit first."));
      box.classList.add("dp-nothing");
    } else {
      const best = shown.indexOf(Math.max(...shown));
      verdict.append(element("div", "dp-verdict-label",
                             off.length ? "with the unit off, the network reads" : "the network reads"),
                     element("div", off.length ? "dp-digit dp-digit-changed" : "dp-digit",
                             String(best)),
                     element("div", "dp-confidence", `${percent(shown[best])} sure`));
      verdict.dataset.prediction = String(best);
      box.classList.remove("dp-nothing");
    }
    if (digit < 0) delete verdict.dataset.prediction;
    const best = shown.length ? shown.indexOf(Math.max(...shown)) : -1;
    columns.forEach(({ column, value, fill, before }, k) => {
      const q = shown.length ? shown[k] : 0;
      fill.style.height = `${100 * q}%`;
      value.textContent = shown.length ? percent(q) : "";
      column.classList.toggle("dp-best", k === best);
      column.classList.toggle("dp-changed", off.length > 0);
      before.hidden = !off.length || p[k] < 0.005;   // a line at 0 would hide the axis
      if (off.length) before.style.bottom = `${100 * p[k]}%`;
    });
    legend.textContent = off.length
      ? "bars: with the unit switched off; dark lines: all units on" : "";
    const t = model.get("temperature");
    temperatureText.textContent = `softmax temperature T = ${t.toFixed(2)}`;
    const pixels = model.get("preview");
    preview.classList.toggle("dp-blank", !pixels.length);
    paintPixels(preview, pixels.length ? pixels : new Array(784).fill(0), 28, 28,
                v => { const g = Math.round(255 * (1 - v)); return [g, g, g]; });
  }
  ["prediction", "probabilities", "probabilities_unit_off", "message", "temperature", "preview"]
    .forEach(name => model.on(`change:${name}`, refresh));
  refresh();
  return box;
}

// --- inside the network: activation strips, a unit's weights, switching it off ---------------

function makeInspector(model) {
  const box = element("div", "dp-inspector");
  box.append(element("h3", "dp-title", "Inside the network"));
  const strips = element("div", "dp-strips");
  const unitBox = element("div", "dp-unit");
  box.append(strips, unitBox);

  const layerCells = model.get("hidden_sizes").map((units, layer) => {
    const row = element("div", "dp-layer");
    row.append(element("div", "dp-layer-name", `hidden layer ${layer + 1} · ${units} units`));
    const grid = element("div", "dp-cells");
    const cells = [...Array(units).keys()].map(unit => {
      const cell = element("button", "dp-cell");
      cell.dataset.layer = String(layer);
      cell.dataset.unit = String(unit);
      cell.addEventListener("click", () => {
        const [l, u] = model.get("selected_unit");
        const same = l === layer && u === unit;    // a second click deselects the unit
        model.set("selected_unit", same ? [] : [layer, unit]);
        model.set("unit_switched_off", false);     // the switch belongs to the unit shown
        model.save_changes();
      });
      grid.append(cell);
      return cell;
    });
    row.append(grid);
    strips.append(row);
    return cells;
  });

  const weights = element("canvas", "dp-weights");
  const unitTitle = element("div", "dp-unit-title");
  const unitValue = element("div", "dp-unit-value");
  const unitNote = element("div", "dp-unit-note");
  const switchLabel = element("label", "dp-switch");
  const switchBox = element("input");
  switchBox.type = "checkbox";
  switchLabel.append(switchBox, element("span", "", "switch this unit off"));
  switchBox.addEventListener("change", () => {
    model.set("unit_switched_off", switchBox.checked);
    model.save_changes();
  });
  const unitText = element("div", "dp-unit-text");
  unitText.append(unitTitle, unitValue, switchLabel, unitNote);
  unitBox.append(weights, unitText);

  function refresh() {
    const hidden = model.get("hidden");
    const [selectedLayer, selectedUnit] = model.get("selected_unit");
    const off = model.get("unit_switched_off");
    layerCells.forEach((cells, layer) => {
      const values = hidden[layer] || [];
      const top = Math.max(1e-9, ...values);
      cells.forEach((cell, unit) => {
        const value = values.length ? values[unit] : 0;
        cell.style.background = sequential(value / top);
        const selected = layer === selectedLayer && unit === selectedUnit;
        cell.classList.toggle("dp-selected", selected);
        cell.classList.toggle("dp-off", selected && off);
        cell.title = values.length ? `unit ${unit}: ${value.toFixed(3)}` : `unit ${unit}`;
        cell.setAttribute("aria-label", `hidden layer ${layer + 1}, unit ${unit}`);
      });
    });
    const unit = model.get("unit");
    unitBox.classList.toggle("dp-unit-empty", !unit.weights);
    if (!unit.weights) {
      unitTitle.textContent = "Click a unit to see what it looks for.";
      unitValue.textContent = "Each cell is one hidden unit; the darker, the more active " +
                              "it is for your drawing.";
      unitNote.textContent = "";
      switchLabel.hidden = true;
      weights.hidden = true;
      return;
    }
    const [rows, columns] = unit.shape;
    weights.hidden = false;
    weights.classList.toggle("dp-weights-strip", rows === 1);
    paintPixels(weights, unit.weights.map(w => w / unit.scale), rows, columns,
                v => diverging(v));
    unitTitle.textContent = `hidden layer ${unit.layer + 1}, unit ${unit.index}`;
    unitValue.textContent = unit.value === null
      ? "activation: no drawing yet" : `activation for your drawing: ${unit.value.toFixed(3)}`;
    unitNote.textContent = rows === 1
      ? `its ${columns} incoming weights, one per unit of hidden layer ${unit.layer}: ` +
        "red raises its input, blue lowers it"
      : "its 784 incoming weights as a 28 × 28 picture: ink on red pixels raises its input, " +
        "ink on blue lowers it";
    switchLabel.hidden = false;
    switchBox.checked = off;
  }
  ["hidden", "selected_unit", "unit", "unit_switched_off"]
    .forEach(name => model.on(`change:${name}`, refresh));
  refresh();
  return box;
}

function render({ model, el }) {
  el.classList.add("nnlib-drawpad");
  const top = element("div", "dp-top");
  top.append(makePad(model), makeReadout(model));
  el.append(top);
  if (model.get("has_network") && model.get("hidden_sizes").length) {
    el.append(makeInspector(model));
  }
}

export default { render };
