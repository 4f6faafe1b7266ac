// sphinx-codetrace: mermaid.min.js (loaded before this module as a classic script, from this same
// folder) defines globalThis.mermaid; sphinxcontrib-mermaid imports its mermaid from this module.
// Serving both locally keeps pages working offline: no CDN request when a page is viewed.
export default globalThis.mermaid;
