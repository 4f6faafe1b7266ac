// Parse mermaid diagrams with the mermaid build the extension ships, under Node.js, for test_render.py.
//
// stdin: a JSON list of diagram texts. stdout: a JSON list with, per diagram, {ok: false, error} or
// {ok: true, type, ...} holding what mermaid's own parser made of it: for a sequence diagram its actors and
// messages, for a flowchart its vertices, edges and subgraphs. Labels are returned as mermaid stores them
// (entity codes still in mermaid's placeholder form; the Python side decodes them).
//
// mermaid.min.js expects a browser; parsing only needs a few globals, stubbed here. Nothing is rendered.
"use strict";
const fs = require("fs");
const path = require("path");

globalThis.window = globalThis;
globalThis.addEventListener = () => {};
for (const name of ["Element", "Node", "DocumentFragment", "HTMLTemplateElement", "NodeFilter", "NamedNodeMap",
                    "HTMLFormElement", "DOMParser", "Text", "Comment", "Document"]) {
  globalThis[name] = function () {};
}
globalThis.Element.prototype.cloneNode = function () {};
// `box <colour> label` checks the colour with `new Option().style` (a DOM API): a plain object accepts it.
globalThis.Option = function () { this.style = {}; };
globalThis.document = {
  nodeType: 9,
  implementation: { createHTMLDocument() { return { body: {} }; } },
  createElement() { return {}; },
  createNodeIterator() {},
  importNode() {},
  getElementsByTagName() { return []; },
};

const bundle = path.join(__dirname, "..", "sphinxext", "codetrace", "_static", "codetrace", "mermaid.min.js");
const source = fs.readFileSync(bundle, "utf8").replace(
  "var __esbuild_esm_mermaid_nm;",
  "var __esbuild_esm_mermaid_nm = globalThis.__esbuild_esm_mermaid_nm = {};");
(0, eval)(source);
const mermaid = globalThis.mermaid;

async function parseOne(text) {
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    const out = { ok: true, type: diagram.type };
    if (diagram.type === "sequence") {
      out.actors = [...db.getActors().values()].map((a) => ({ name: a.name, description: a.description, type: a.type }));
      out.messages = db.getMessages().map((m) => ({
        from: m.from ?? null, to: m.to ?? null, message: m.message ?? "", type: m.type, activate: m.activate ?? null,
      }));
    } else {
      out.vertices = [...db.getVertices().values()].map((v) => ({
        id: v.id, text: v.text, link: v.link ?? null, linkTarget: v.linkTarget ?? null, classes: v.classes,
      }));
      out.edges = db.getEdges().map((e) => ({ start: e.start, end: e.end, text: e.text, type: e.type, stroke: e.stroke }));
      out.subgraphs = db.getSubGraphs().map((s) => ({ id: s.id, title: s.title, nodes: s.nodes }));
    }
    return out;
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err).split("\n").slice(0, 3).join("\n") };
  }
}

(async () => {
  mermaid.initialize({ startOnLoad: false });
  const texts = JSON.parse(fs.readFileSync(0, "utf8"));
  const results = [];
  for (const text of texts) {
    results.push(await parseOne(text));
  }
  process.stdout.write(JSON.stringify(results));
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
