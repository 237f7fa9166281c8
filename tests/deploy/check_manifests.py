#!/usr/bin/python3
"""Checks deploy/: the compose file, the Prometheus and Grafana provisioning, the dashboard, the
Kubernetes manifests and the KServe runtime are read and cross-checked against each other and
against the Dockerfile (ports, paths, user, the fields a deployment of attnd relies on); the
KServe runtime's arguments are checked against attnd itself ($ATTND_BIN, else build/attnd): its
--help, and a run with them that answers the runtime's probe paths. Run by tests/test_deploy.c in `make test`; needs Debian's
python3-yaml. Prints one line per failed check and exits 1 if there was any, else prints a
summary and exits 0."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return bool(cond)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_all_yaml(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def seconds(s):
    """'40s', '1m30s', 45 -> seconds."""
    if isinstance(s, (int, float)):
        return float(s)
    total, matched = 0.0, False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(s)):
        matched = True
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total if matched else float(s)


def dockerfile():
    """The run stage's USER uid, EXPOSE port and ENV of the Dockerfile."""
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    stages = re.split(r"^FROM\s", text, flags=re.M)
    run = stages[-1]
    user = re.findall(r"^USER\s+(\S+)", run, flags=re.M)
    expose = re.findall(r"^EXPOSE\s+(\d+)", run, flags=re.M)
    env = dict(re.findall(r"(ATTND_\w+)=(\S+)", " ".join(re.findall(r"^ENV\s+(.*)$", run, flags=re.M))))
    return {
        "uid": int(user[-1].split(":")[0]) if user and user[-1].split(":")[0].isdigit() else None,
        "port": int(expose[0]) if expose else None,
        "env": env,
        "healthcheck": "--healthcheck" in " ".join(re.findall(r"^HEALTHCHECK.*$", run, flags=re.M)),
    }


def env_map(env):
    """compose environment (dict or list of K=V) -> dict."""
    if isinstance(env, dict):
        return {k: ("" if v is None else str(v)) for k, v in env.items()}
    out = {}
    for item in env or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def mounts(service):
    """compose volumes (short syntax) -> list of (source, target)."""
    out = []
    for v in service.get("volumes", []) or []:
        if isinstance(v, dict):
            out.append((v.get("source"), v.get("target")))
        else:
            parts = str(v).split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
    return out


def check_compose(df):
    path = os.path.join(DEPLOY, "docker-compose.yml")
    compose = load_yaml(path)
    services = compose.get("services", {})
    for name in ("attnd", "prometheus", "grafana"):
        check(name in services, f"docker-compose.yml: no service {name}")
    attnd = services.get("attnd", {})
    build = attnd.get("build", {})
    context = build.get("context") if isinstance(build, dict) else build
    check(context == "..", f"compose attnd: build context is {context!r}, expected '..' (the repository)")
    if context:
        dockerfile_path = os.path.normpath(os.path.join(DEPLOY, context, build.get("dockerfile", "Dockerfile")))
        check(os.path.isfile(dockerfile_path), f"compose attnd: {dockerfile_path} does not exist")
    env = env_map(attnd.get("environment"))
    host = env.get("ATTND_HOST", df["env"].get("ATTND_HOST"))
    port = int(env.get("ATTND_PORT", df["env"].get("ATTND_PORT", 8080)))
    check(host == "0.0.0.0", f"compose attnd: ATTND_HOST is {host!r}, expected 0.0.0.0")
    check(any(str(p).split(":")[-1] == str(port) for p in attnd.get("ports", [])),
          f"compose attnd: no published port maps to the container's {port}")
    timeout = float(env.get("ATTND_SHUTDOWN_TIMEOUT", 30))
    grace = seconds(attnd.get("stop_grace_period", "10s"))
    check(grace > timeout,
          f"compose attnd: stop_grace_period {grace:g}s must exceed ATTND_SHUTDOWN_TIMEOUT {timeout:g}s")
    check(df["healthcheck"] or "healthcheck" in attnd, "compose attnd: no healthcheck (image or compose)")

    # Every bind mount's source exists beside the compose file.
    for svc_name, svc in services.items():
        for src, _ in mounts(svc):
            if src and src.startswith("."):
                check(os.path.exists(os.path.join(DEPLOY, src)),
                      f"compose {svc_name}: mount source {src} does not exist in deploy/")

    # Prometheus reads the shipped config and scrapes attnd by service name and port.
    prom = services.get("prometheus", {})
    pm = dict((t, s) for s, t in mounts(prom))
    cmd = prom.get("command", [])
    cmd = cmd.split() if isinstance(cmd, str) else cmd
    config_in = next((c.split("=", 1)[1] for c in cmd if c.startswith("--config.file=")),
                     "/etc/prometheus/prometheus.yml")
    check(pm.get(config_in) == "./prometheus/prometheus.yml",
          f"compose prometheus: {config_in} is not mounted from ./prometheus/prometheus.yml")
    deps = prom.get("depends_on", {})
    check("attnd" in deps, "compose prometheus: does not depend on attnd")
    pconf = load_yaml(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))
    jobs = pconf.get("scrape_configs", [])
    targets = [t for j in jobs for sc in j.get("static_configs", []) for t in sc.get("targets", [])]
    check(f"attnd:{port}" in targets, f"prometheus.yml: no target attnd:{port} (got {targets})")
    attnd_jobs = [j for j in jobs if any(f"attnd:{port}" in sc.get("targets", []) for sc in j.get("static_configs", []))]
    for j in attnd_jobs:
        check(j.get("metrics_path", "/metrics") == "/metrics", "prometheus.yml: attnd's metrics_path is not /metrics")
    prom_port = next((str(p).split(":")[-1] for p in prom.get("ports", [])), "9090")

    # Grafana: provisioning mounted where Grafana reads it, the datasource pointing at the
    # prometheus service, the dashboard provider pointing where the dashboards are mounted.
    graf = services.get("grafana", {})
    gm = dict((t, s) for s, t in mounts(graf))
    check(gm.get("/etc/grafana/provisioning") == "./grafana/provisioning",
          "compose grafana: ./grafana/provisioning is not mounted at /etc/grafana/provisioning")
    prov = os.path.join(DEPLOY, "grafana", "provisioning")
    ds_files = [f for f in sorted(os.listdir(os.path.join(prov, "datasources"))) if f.endswith((".yml", ".yaml"))]
    check(ds_files, "grafana: no datasource in provisioning/datasources")
    ds_uids = set()
    for f in ds_files:
        for ds in load_yaml(os.path.join(prov, "datasources", f)).get("datasources", []):
            if ds.get("type") == "prometheus":
                ds_uids.add(ds.get("uid"))
                check(ds.get("url") == f"http://prometheus:{prom_port}",
                      f"grafana datasource {f}: url {ds.get('url')} is not http://prometheus:{prom_port}")
    check(ds_uids, "grafana: no prometheus datasource")
    db_files = [f for f in sorted(os.listdir(os.path.join(prov, "dashboards"))) if f.endswith((".yml", ".yaml"))]
    check(db_files, "grafana: no dashboard provider in provisioning/dashboards")
    dash_paths = []
    for f in db_files:
        for p in load_yaml(os.path.join(prov, "dashboards", f)).get("providers", []):
            target = p.get("options", {}).get("path")
            src = gm.get(target)
            if check(src, f"grafana provider {f}: path {target} is not a mount of the grafana service"):
                dash_paths.append(os.path.normpath(os.path.join(DEPLOY, src)))
    home = env_map(graf.get("environment")).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        src_dir = next((s for t, s in gm.items() if home.startswith(t.rstrip("/") + "/")), None)
        check(src_dir and os.path.isfile(os.path.join(DEPLOY, src_dir, home.rsplit("/", 1)[1])),
              f"compose grafana: home dashboard {home} is not a mounted file")
    dashboards = [os.path.join(d, f) for d in dash_paths for f in sorted(os.listdir(d)) if f.endswith(".json")]
    check(os.path.join(DEPLOY, "grafana", "dashboards", "attnd.json") in dashboards,
          "grafana: deploy/grafana/dashboards/attnd.json is not provisioned")
    for d in dashboards:
        check_dashboard(d, ds_uids)


# What the dashboard must show: a regular expression over its PromQL per item.
DASHBOARD_NEEDS = {
    "request rate by route and code": r"sum by \(route, ?code\) \(rate\(attnd_http_requests_total\[",
    "5xx ratio": r'attnd_http_requests_total\{code=~"5\.\."\}.*/\s*sum\(rate\(attnd_http_requests_total\[',
    "4xx ratio": r'attnd_http_requests_total\{code=~"4\.\."\}.*/\s*sum\(rate\(attnd_http_requests_total\[',
    "latency p50": r"histogram_quantile\(0\.5, .*attnd_http_request_duration_seconds_bucket",
    "latency p90": r"histogram_quantile\(0\.9, .*attnd_http_request_duration_seconds_bucket",
    "latency p99": r"histogram_quantile\(0\.99, .*attnd_http_request_duration_seconds_bucket",
    "queue depth": r"\battnd_queue_depth\b",
    "queue capacity": r"\battnd_queue_capacity\b",
    "in flight": r"\battnd_http_requests_in_flight\b",
    "busy workers": r"\battnd_workers_busy\b",
    "CPU": r"rate\(process_cpu_seconds_total\[",
    "memory": r"\bprocess_resident_memory_bytes\b",
}


def check_dashboard(path, ds_uids):
    name = os.path.relpath(path, ROOT)
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    check(dash.get("uid") and dash.get("title"), f"{name}: no uid or title")
    exprs = []
    ids = []
    for panel in dash.get("panels", []):
        ids.append(panel.get("id"))
        for ds in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
            if isinstance(ds, dict):
                check(ds.get("uid") in ds_uids,
                      f"{name}: panel {panel.get('title')!r} uses datasource uid {ds.get('uid')!r}, not a provisioned one")
        for t in panel.get("targets", []):
            exprs.append(t.get("expr", ""))
            check(t.get("expr"), f"{name}: panel {panel.get('title')!r} has a target without expr")
    check(len(ids) == len(set(ids)), f"{name}: panel ids are not unique")
    for what, pattern in DASHBOARD_NEEDS.items():
        check(any(re.search(pattern, e) for e in exprs), f"{name}: no panel shows {what} (/{pattern}/)")


def check_k8s(df):
    k8s = os.path.join(DEPLOY, "k8s")
    kust = load_yaml(os.path.join(k8s, "kustomization.yaml"))
    check(kust.get("kind") == "Kustomization", "kustomization.yaml: kind is not Kustomization")
    docs = []
    for r in kust.get("resources", []):
        p = os.path.join(k8s, r)
        if check(os.path.isfile(p), f"kustomization.yaml: resource {r} does not exist"):
            docs += load_all_yaml(p)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
        check(len(by_kind.get(kind, [])) == 1, f"k8s: expected one {kind}, got {len(by_kind.get(kind, []))}")
    dep = (by_kind.get("Deployment") or [{}])[0]
    svc = (by_kind.get("Service") or [{}])[0]
    hpa = (by_kind.get("HorizontalPodAutoscaler") or [{}])[0]

    check(dep.get("apiVersion") == "apps/v1", "Deployment: apiVersion is not apps/v1")
    spec = dep.get("spec", {})
    tmpl = spec.get("template", {})
    labels = tmpl.get("metadata", {}).get("labels", {})
    sel = spec.get("selector", {}).get("matchLabels", {})
    check(sel and all(labels.get(k) == v for k, v in sel.items()),
          "Deployment: selector does not match the pod template's labels")
    pod = tmpl.get("spec", {})
    containers = pod.get("containers", [])
    check(len(containers) >= 1, "Deployment: no container")
    c = next((c for c in containers if c.get("name") == "attnd"), containers[0] if containers else {})
    image = c.get("image", "")
    kimages = [i.get("name") for i in kust.get("images", [])]
    check(image.split(":")[0] in kimages, f"kustomization.yaml: images does not name the Deployment's image {image}")

    port = next((p for p in c.get("ports", []) if p.get("name") == "http"), {})
    cport = port.get("containerPort")
    check(cport == df["port"], f"Deployment: containerPort {cport} is not the image's EXPOSE {df['port']}")

    env = {}
    for e in c.get("env", []):
        env[e.get("name")] = e
        if "value" in e:
            check(isinstance(e["value"], str),
                  f"Deployment: env {e.get('name')} value {e['value']!r} must be a string (quote it)")
    check(env.get("ATTND_HOST", {}).get("value") == "0.0.0.0", "Deployment: ATTND_HOST is not 0.0.0.0")
    if "ATTND_PORT" in env:
        check(env["ATTND_PORT"].get("value") == str(cport), "Deployment: ATTND_PORT differs from containerPort")
    ref = env.get("ATTND_THREADS", {}).get("valueFrom", {}).get("resourceFieldRef", {})
    check(ref.get("resource") == "limits.cpu",
          "Deployment: ATTND_THREADS is not valueFrom.resourceFieldRef {resource: limits.cpu}")
    check(ref.get("containerName", c.get("name")) == c.get("name"),
          "Deployment: ATTND_THREADS' resourceFieldRef names another container")

    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(r in res.get(kind, {}), f"Deployment: resources.{kind}.{r} missing")

    live = c.get("livenessProbe", {}).get("httpGet", {})
    ready = c.get("readinessProbe", {}).get("httpGet", {})
    check(live.get("path") == "/healthz", "Deployment: livenessProbe is not GET /healthz")
    check(ready.get("path") == "/readyz", "Deployment: readinessProbe is not GET /readyz")
    for probe in (live, ready):
        check(probe.get("port") in ("http", cport), f"Deployment: probe port {probe.get('port')} is not the http port")

    psc = pod.get("securityContext", {})
    csc = c.get("securityContext", {})
    check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, "Deployment: runAsNonRoot is not true")
    check(csc.get("readOnlyRootFilesystem") is True, "Deployment: readOnlyRootFilesystem is not true")
    check(csc.get("allowPrivilegeEscalation") is False, "Deployment: allowPrivilegeEscalation is not false")
    check("ALL" in csc.get("capabilities", {}).get("drop", []), "Deployment: capabilities.drop lacks ALL")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    check(uid is None or uid == df["uid"], f"Deployment: runAsUser {uid} is not the image's USER {df['uid']}")
    check(df["uid"] not in (None, 0), "Dockerfile: USER is not a numeric non-root uid (runAsNonRoot needs one)")

    ann = tmpl.get("metadata", {}).get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true", "Deployment: annotation prometheus.io/scrape is not \"true\"")
    check(ann.get("prometheus.io/port") == str(cport), f"Deployment: annotation prometheus.io/port is not \"{cport}\"")
    check(ann.get("prometheus.io/path") == "/metrics", "Deployment: annotation prometheus.io/path is not /metrics")
    for k, v in ann.items():
        check(isinstance(v, str), f"Deployment: annotation {k} must be a string")

    timeout = float(env.get("ATTND_SHUTDOWN_TIMEOUT", {}).get("value", 30))
    pre = c.get("lifecycle", {}).get("preStop", {})
    pre_sleep = 0.0
    cmd = pre.get("exec", {}).get("command", [])
    if len(cmd) == 2 and cmd[0] == "sleep":
        pre_sleep = float(cmd[1])
    pre_sleep += float(pre.get("sleep", {}).get("seconds", 0))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > timeout + pre_sleep,
          f"Deployment: terminationGracePeriodSeconds {grace} must exceed preStop {pre_sleep:g}s + ATTND_SHUTDOWN_TIMEOUT {timeout:g}s")

    check(svc.get("apiVersion") == "v1", "Service: apiVersion is not v1")
    ssel = svc.get("spec", {}).get("selector", {})
    check(ssel and all(labels.get(k) == v for k, v in ssel.items()), "Service: selector does not match the pods")
    sports = svc.get("spec", {}).get("ports", [])
    check(any(p.get("targetPort") in ("http", cport) for p in sports), "Service: no port targets the container's http port")

    check(hpa.get("apiVersion") == "autoscaling/v2", "HorizontalPodAutoscaler: apiVersion is not autoscaling/v2")
    hs = hpa.get("spec", {})
    ref = hs.get("scaleTargetRef", {})
    check(ref.get("kind") == "Deployment" and ref.get("name") == dep.get("metadata", {}).get("name"),
          "HorizontalPodAutoscaler: scaleTargetRef is not the Deployment")
    check(1 <= hs.get("minReplicas", 1) <= hs.get("maxReplicas", 0), "HorizontalPodAutoscaler: minReplicas/maxReplicas")
    cpu = [m for m in hs.get("metrics", []) if m.get("type") == "Resource"
           and m.get("resource", {}).get("name") == "cpu"
           and m.get("resource", {}).get("target", {}).get("type") == "Utilization"]
    check(cpu, "HorizontalPodAutoscaler: no CPU Utilization metric")


def attnd_bin():
    b = os.environ.get("ATTND_BIN") or "build/attnd"
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def attnd_flags():
    """The flags attnd --help lists."""
    out = subprocess.run([attnd_bin(), "--help"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+(--[a-z][a-z-]*)", out.stdout + out.stderr, flags=re.M))


def flag_values(args):
    """['--port', '8080', '--x=1'] -> {'--port': '8080', '--x': '1'} (a flag alone: '')."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            out[k] = v
        elif a.startswith("--"):
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is not None and not nxt.startswith("--"):
                out[a] = nxt
                i += 1
            else:
                out[a] = ""
        i += 1
    return out


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def run_with_args(args, paths):
    """Starts attnd with `args`, its address moved to a free loopback port (its log level may
    hide the line that names the port), waits for /healthz, and GETs each path. Returns
    ({path: status}, None) or (None, why)."""
    moved, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("--host", "--port"):
            skip = True
        elif not a.startswith(("--host=", "--port=")):
            moved.append(a)
    port = free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        env = dict(os.environ, ATTND_THREADS="1")
        p = subprocess.Popen([attnd_bin()] + moved + ["--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(400):
                if p.poll() is not None:
                    log.seek(0)
                    return None, f"attnd exited with {p.returncode}: {log.read().strip()}"
                try:
                    up = get_status(base + "/healthz") == 200
                except OSError:
                    up = False
                if up:
                    break
                time.sleep(0.05)
            else:
                return None, "attnd did not answer /healthz within 20 s"
            return {path: get_status(base + path) for path in paths}, None
        finally:
            p.terminate()
            p.wait(timeout=40)


def check_kserve(df):
    ks = os.path.join(DEPLOY, "kserve")
    kust = load_yaml(os.path.join(ks, "kustomization.yaml"))
    check(kust.get("kind") == "Kustomization", "kserve/kustomization.yaml: kind is not Kustomization")
    docs = []
    for r in kust.get("resources", []):
        p = os.path.join(ks, r)
        if check(os.path.isfile(p), f"kserve/kustomization.yaml: resource {r} does not exist"):
            docs += load_all_yaml(p)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    for kind in ("ServingRuntime", "InferenceService"):
        check(len(by_kind.get(kind, [])) == 1, f"kserve: expected one {kind}, got {len(by_kind.get(kind, []))}")
    sr = (by_kind.get("ServingRuntime") or [{}])[0]
    isvc = (by_kind.get("InferenceService") or [{}])[0]

    check(sr.get("apiVersion") == "serving.kserve.io/v1alpha1", "ServingRuntime: apiVersion is not serving.kserve.io/v1alpha1")
    spec = sr.get("spec", {})
    formats = [f.get("name") for f in spec.get("supportedModelFormats", [])]
    check(formats and all(formats), "ServingRuntime: supportedModelFormats has no named format")
    check("v2" in spec.get("protocolVersions", []), "ServingRuntime: protocolVersions does not list v2")
    containers = spec.get("containers", [])
    c = next((c for c in containers if c.get("name") == "kserve-container"), None)
    if not check(c, "ServingRuntime: no container named kserve-container (KServe looks for that name)"):
        return
    image = c.get("image", "")
    kimages = [i.get("name") for i in kust.get("images", [])]
    check(image.split(":")[0] in kimages, f"kserve/kustomization.yaml: images does not name the runtime's image {image}")
    check(image.split(":")[0] == "attnd", f"ServingRuntime: image {image} is not attnd's")
    ports = c.get("ports", [])
    check(len(ports) == 1, "ServingRuntime: expected exactly one container port (Knative routes to one)")
    cport = (ports or [{}])[0].get("containerPort")
    check(cport == 8080, f"ServingRuntime: containerPort {cport} is not 8080, where KServe sends requests")
    check(cport == df["port"], f"ServingRuntime: containerPort {cport} is not the image's EXPOSE {df['port']}")

    args = c.get("args", [])
    check(all(isinstance(a, str) for a in args), "ServingRuntime: every arg must be a string (quote numbers)")
    args = [str(a) for a in args]
    flags = attnd_flags()
    check(len(flags) > 10, f"{attnd_bin()} --help lists no flags")
    for a in args:
        if a.startswith("--"):
            check(a.split("=")[0] in flags, f"ServingRuntime: attnd has no flag {a.split('=')[0]} (attnd --help)")
    vals = flag_values(args)
    host = vals.get("--host", df["env"].get("ATTND_HOST"))
    port = vals.get("--port", df["env"].get("ATTND_PORT", "8080"))
    check(host == "0.0.0.0", f"ServingRuntime: attnd listens on {host}, not 0.0.0.0")
    check(str(port) == str(cport), f"ServingRuntime: attnd's --port {port} is not the containerPort {cport}")
    env = {e.get("name"): e for e in c.get("env", [])}
    for e in env.values():
        if "value" in e:
            check(isinstance(e["value"], str), f"ServingRuntime: env {e.get('name')} value must be a string")
    ref = env.get("ATTND_THREADS", {}).get("valueFrom", {}).get("resourceFieldRef", {})
    check(ref.get("resource") == "limits.cpu" and ref.get("containerName", "kserve-container") == "kserve-container",
          "ServingRuntime: ATTND_THREADS is not the container's limits.cpu")
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(r in res.get(kind, {}), f"ServingRuntime: resources.{kind}.{r} missing")

    live = c.get("livenessProbe", {}).get("httpGet", {})
    ready = c.get("readinessProbe", {}).get("httpGet", {})
    check(live.get("path") == "/v2/health/live", "ServingRuntime: livenessProbe is not GET /v2/health/live")
    check(ready.get("path") == "/v2/health/ready", "ServingRuntime: readinessProbe is not GET /v2/health/ready")
    for probe in (live, ready):
        check(probe.get("port") == cport, f"ServingRuntime: probe port {probe.get('port')} is not {cport} (Knative allows only the serving port)")

    csc = c.get("securityContext", {})
    check(csc.get("runAsNonRoot") is True, "ServingRuntime: runAsNonRoot is not true")
    check(csc.get("runAsUser", df["uid"]) == df["uid"], f"ServingRuntime: runAsUser is not the image's USER {df['uid']}")
    check(csc.get("readOnlyRootFilesystem") is True, "ServingRuntime: readOnlyRootFilesystem is not true")
    check(csc.get("allowPrivilegeEscalation") is False, "ServingRuntime: allowPrivilegeEscalation is not false")
    check("ALL" in csc.get("capabilities", {}).get("drop", []), "ServingRuntime: capabilities.drop lacks ALL")
    ann = sr.get("metadata", {}).get("annotations", {})
    check(ann.get("prometheus.kserve.io/port") == str(cport) and ann.get("prometheus.kserve.io/path") == "/metrics",
          "ServingRuntime: prometheus.kserve.io/port and /path do not point at attnd's /metrics")

    check(isvc.get("apiVersion") == "serving.kserve.io/v1beta1", "InferenceService: apiVersion is not serving.kserve.io/v1beta1")
    model = isvc.get("spec", {}).get("predictor", {}).get("model", {})
    check(model.get("modelFormat", {}).get("name") in formats,
          f"InferenceService: modelFormat {model.get('modelFormat')} is not one the runtime supports ({formats})")
    check(model.get("runtime") == sr.get("metadata", {}).get("name"), "InferenceService: runtime is not the ServingRuntime's name")
    check(model.get("protocolVersion", "v2") in spec.get("protocolVersions", []),
          "InferenceService: protocolVersion is not one the runtime speaks")

    # attnd really starts with the runtime's arguments (the address moved to a free loopback
    # port), serves, and answers its probes 200.
    paths = ["/healthz"] + [p.get("path") for p in (live, ready) if p.get("path")]
    got, why = run_with_args(args, paths)
    if check(got is not None, f"ServingRuntime: attnd {' '.join(args)}: {why}"):
        for path in paths:
            check(got.get(path) == 200,
                  f"ServingRuntime: with the runtime's args, GET {path} answered {got.get(path)}")


def main():
    df = dockerfile()
    check(df["port"] is not None and df["env"].get("ATTND_HOST") == "0.0.0.0",
          "Dockerfile: EXPOSE or ENV ATTND_HOST=0.0.0.0 missing")
    check(df["healthcheck"], "Dockerfile: HEALTHCHECK does not run attnd --healthcheck")
    for part in (check_compose, check_k8s, check_kserve):
        try:
            part(df)
        except Exception as e:  # a missing file or a wrong type is a failure, not a crash
            check(False, f"{part.__name__}: {type(e).__name__}: {e}")
    for f in failures:
        print(f"check_manifests: {f}")
    print(f"check_manifests: {checks - len(failures)} of {checks} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
