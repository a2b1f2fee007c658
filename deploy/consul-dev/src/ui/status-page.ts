// The read-only status page at /ui: services, instances and checks, the mesh's intentions, and the Connect CA (trust
// domain, active root, each service's current leaf), refreshed live through a blocking query on the agent's index.
// (Consul's own UI cannot run here: it is unpublished, BUSL-licensed and built on internal endpoints.)
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>consul-dev</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1f2328; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; } .sub { color: #59636e; margin-bottom: 1.5rem; }
  section { border: 1px solid #d1d9e0; border-radius: 6px; margin-bottom: 1rem; }
  section h2 { font-size: 1.05rem; margin: 0; padding: .6rem .9rem; background: #f6f8fa; border-bottom: 1px solid #d1d9e0; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .4rem .9rem; vertical-align: top; }
  th { font-weight: 600; color: #59636e; } tr + tr td { border-top: 1px solid #eef1f4; }
  .passing { color: #1a7f37; } .warning { color: #9a6700; } .critical { color: #cf222e; }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-weight: 600; }
  .passing.badge { background: #dafbe1; } .warning.badge { background: #fff8c5; } .critical.badge { background: #ffebe9; }
  code { font-size: 12px; } .output { color: #59636e; font-size: 12px; max-width: 40rem; overflow-wrap: anywhere; }
  .allow { color: #1a7f37; font-weight: 600; } .deny { color: #cf222e; font-weight: 600; } .l7 { color: #8250df; font-weight: 600; }
  h2.part { font-size: 1.1rem; margin: 1.5rem 0 .5rem; } .muted { color: #59636e; }
</style>
</head>
<body>
<h1>consul-dev</h1>
<div class="sub" id="agent">loading…</div>
<div id="services"></div>
<h2 class="part">Intentions</h2>
<div id="intentions"></div>
<h2 class="part">Connect CA</h2>
<div class="sub" id="ca"></div>
<div id="leaves"></div>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const worst = (checks) => ["critical", "warning", "passing"].find((s) => checks.some((c) => c.Status === s)) || "passing";
const left = (iso, suffix = " left") => {
  const s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  if (s <= 0) return "expired";
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + "d " + h + "h" : h ? h + "h " + m + "m" : m ? m + "m " + (s % 60) + "s" : s + "s") + suffix;
};
// Time left ticks every second between renders.
setInterval(() => { for (const el of document.querySelectorAll("[data-until]")) el.textContent = left(el.dataset.until, el.dataset.suffix ?? " left"); }, 1000);
const permission = (p) => '<span class="' + p.Action + '">' + p.Action + "</span> " + esc([p.HTTP.PathExact && "path " + p.HTTP.PathExact, p.HTTP.PathPrefix && "prefix " + p.HTTP.PathPrefix,
  p.HTTP.PathRegex && "regex " + p.HTTP.PathRegex, p.HTTP.Methods && p.HTTP.Methods.join(","), (p.HTTP.Header || []).length && p.HTTP.Header.length + " header rule(s)"].filter(Boolean).join(" "));
function renderConnect(intentions, connect) {
  document.getElementById("intentions").innerHTML = intentions.length ? "<section><table><tr><th>source</th><th></th><th>destination</th><th>action</th><th>precedence</th><th>description</th></tr>" +
    intentions.map((i) => '<tr data-intention="' + esc(i.SourceName + "->" + i.DestinationName) + '"><td><code>' + esc(i.SourceName) + "</code></td><td>&rarr;</td><td><code>" + esc(i.DestinationName) + "</code></td><td>" +
      (i.Permissions ? '<span class="l7">L7</span>' + i.Permissions.map((p) => "<div>" + permission(p) + "</div>").join("") : '<span class="' + i.Action + '">' + i.Action + "</span>") +
      "</td><td>" + i.Precedence + '</td><td class="muted">' + esc(i.Description) + "</td></tr>").join("") + "</table></section>"
    : '<p class="muted">No intentions: every connection is allowed (default policy allow).</p>';
  document.getElementById("ca").innerHTML = "trust domain <code>" + esc(connect.TrustDomain) + "</code> · active root <code>" + esc(connect.ActiveRoot.ID.slice(0, 23)) + "…</code> expires " +
    esc(connect.ActiveRoot.NotAfter.slice(0, 10)) + ' (<span data-until="' + esc(connect.ActiveRoot.NotAfter) + '">' + left(connect.ActiveRoot.NotAfter) + "</span>) · " + connect.Roots + " trusted root(s)";
  document.getElementById("leaves").innerHTML = connect.Leaves.length ? "<section><table><tr><th>service</th><th>leaf serial</th><th>expires</th><th>renews in</th></tr>" +
    connect.Leaves.map((l) => '<tr data-leaf="' + esc(l.Service) + '"><td><code>' + esc(l.Service) + "</code></td><td><code>" + esc(l.SerialNumber) + '</code></td><td><span data-until="' + esc(l.ValidBefore) + '">' + left(l.ValidBefore) +
      '</span> <span class="muted">(' + esc(l.ValidBefore) + ')</span></td><td class="muted"><span data-suffix="" data-until="' + esc(l.RenewAt) + '">' + left(l.RenewAt, "") + "</span></td></tr>").join("") + "</table></section>"
    : '<p class="muted">No leaf certificates issued yet.</p>';
}
async function render() {
  const [self, services, checks, intentions, connect] = await Promise.all(["/v1/agent/self", "/v1/agent/services", "/v1/agent/checks", "/v1/connect/intentions", "/ui/connect.json"].map((p) => fetch(p).then((r) => r.json())));
  renderConnect(intentions, connect);
  document.getElementById("agent").textContent = "node " + self.Config.NodeName + " · datacenter " + self.Config.Datacenter + " · updated " + new Date().toLocaleTimeString();
  const byName = {};
  for (const s of Object.values(services)) (byName[s.Service] ||= []).push(s);
  const allChecks = Object.values(checks);
  document.getElementById("services").innerHTML = Object.keys(byName).sort().map((name) => {
    const rows = byName[name].map((s) => {
      const own = allChecks.filter((c) => c.ServiceID === s.ID);
      const meta = Object.entries(s.Meta || {}).map(([k, v]) => esc(k) + "=" + esc(v)).join("<br>");
      const list = own.map((c) => '<div><span class="badge ' + c.Status + '">' + c.Status + "</span> " + esc(c.Name) + " <code>" + esc(c.Type) + "</code>" +
        '<div class="output">' + esc(c.Output) + "</div></div>").join("");
      return "<tr><td><code>" + esc(s.ID) + "</code></td><td>" + esc(s.Address || self.Member.Addr) + ":" + s.Port + "</td><td>" + esc((s.Tags || []).join(", ")) +
        "</td><td>" + meta + "</td><td>" + (list || "no checks") + "</td></tr>";
    }).join("");
    const status = worst(allChecks.filter((c) => byName[name].some((s) => s.ID === c.ServiceID)));
    const healthy = byName[name].filter((s) => allChecks.every((c) => c.ServiceID !== s.ID || c.Status === "passing")).length;
    return '<section data-service="' + esc(name) + '"><h2>' + esc(name) + ' <span class="badge ' + status + '">' + healthy + "/" + byName[name].length + " passing</span></h2>" +
      "<table><tr><th>instance</th><th>address</th><th>tags</th><th>meta</th><th>checks</th></tr>" + rows + "</table></section>";
  }).join("") || "<p>No services registered.</p>";
}
async function watch() {
  let index = 0;
  for (;;) {
    try {
      await render();
      // consul-dev's own status data blocks on the agent's single index: any change (checks, intentions, certificates).
      const response = await fetch("/ui/connect.json?index=" + index + "&wait=30s");
      const next = Number(response.headers.get("X-Consul-Index"));
      index = next < index ? 0 : next;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
watch();
</script>
</body>
</html>
`;
