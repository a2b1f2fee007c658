// The read-only status page at /ui: services, instances and checks, refreshed live through a blocking query.
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
</style>
</head>
<body>
<h1>consul-dev</h1>
<div class="sub" id="agent">loading…</div>
<div id="services"></div>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const worst = (checks) => ["critical", "warning", "passing"].find((s) => checks.some((c) => c.Status === s)) || "passing";
async function render() {
  const [self, services, checks] = await Promise.all(["/v1/agent/self", "/v1/agent/services", "/v1/agent/checks"].map((p) => fetch(p).then((r) => r.json())));
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
      const response = await fetch("/v1/health/state/any?index=" + index + "&wait=30s");
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
