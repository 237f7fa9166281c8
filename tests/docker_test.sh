#!/usr/bin/env bash
# `make docker-test`: builds the image from the Dockerfile, runs it, and checks it as a user would:
# the HEALTHCHECK passes, the README's seq2seq request gives 0.5/0.3/0.2, the fixture model mounted
# at /models (ATTND_MODEL) gives PyTorch's numbers for a case of tests/fixtures/model_cases.json,
# /metrics answers, the daemon runs as non-root on a read-only root filesystem without
# capabilities, and SIGTERM stops it cleanly. Uses Docker when `docker info` answers,
# else podman (installed from Debian when missing). A missing debian:bookworm-slim is made with
# debootstrap, since no registry but Debian's may be reachable. Ends with
# "docker-test: N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

# --build-only (make docker) stops after building; ATTND_IMAGE names the image.
IMAGE=${ATTND_IMAGE:-attnd:test}
build_only=0
label=docker-test
[ "${1:-}" = --build-only ] && build_only=1 label=docker
BASE=debian:bookworm-slim
NAME=attnd-docker-test-$$
passed=0
failed=0
t_start=$SECONDS

say() { printf '%s: %s\n' "$label" "$*"; }
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; shift; [ $# -eq 0 ] || printf '     %s\n' "$@"; }
finish() {
  say "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
# A failure that leaves nothing else worth checking.
abort() { fail "$@"; cleanup; finish; }
# Removes the test container, if the engine is known yet (the EXIT trap runs it on any exit).
ENGINE=""
cleanup() {
  [ -n "$ENGINE" ] || return 0
  engine rm -f -t 0 "$NAME" >/dev/null 2>&1 || engine rm -f "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# Installs the Debian packages among "$@" that are missing.
install_missing() {
  local missing="" p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -n "$missing" ] || return 0
  say "installing$missing with apt-get"
  if ! { $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing; } \
    >"/tmp/$NAME.apt.log" 2>&1; then
    tail -20 "/tmp/$NAME.apt.log"
    abort "install$missing with apt-get"
  fi
  rm -f "/tmp/$NAME.apt.log"
}

# --- the engine -------------------------------------------------------------------------------
install_missing curl python3
PY=/usr/bin/python3 # Debian's, whatever python3 comes first on PATH
if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  ENGINE=docker
  engine() { docker "$@"; }
  build() { docker build -t "$IMAGE" .; }
else
  install_missing podman runc debootstrap
  ENGINE=podman
  # crun cannot set up cgroups on every host (it fails on cgroup v1 without systemd); runc can.
  engine() { $sudo podman --runtime runc "$@"; }
  # chroot isolation builds without a container runtime; docker format keeps the HEALTHCHECK
  # (the OCI image format has no field for it, and podman would drop it with a warning).
  build() { $sudo podman build --isolation=chroot --format docker -t "$IMAGE" .; }
fi
say "engine: $ENGINE"

# --- the base image ---------------------------------------------------------------------------
# Docker pulls it when the build needs it. podman here may reach no image registry, so the image
# is made from Debian's own packages, trimmed like the official slim image, and stored under the
# name the Dockerfile's FROM resolves to. Nothing is kept outside podman's storage.
make_base_image() {
  local dir
  dir=$(mktemp -d /var/tmp/attnd-base-XXXXXX) || return 1
  local root=$dir/root
  say "$BASE is missing: building it with debootstrap --variant=minbase bookworm"
  if ! $sudo debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
    >"$dir/debootstrap.log" 2>&1; then
    tail -20 "$dir/debootstrap.log"
    $sudo rm -rf "$dir"
    return 1
  fi
  $sudo sh -e -c '
    root=$1
    # The official image'"'"'s sources and its apt/dpkg settings for containers.
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo "Acquire::Languages \"none\";" >"$root/etc/apt/apt.conf.d/docker-no-languages"
    echo "APT::AutoRemove::SuggestsImportant \"false\";" >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root/usr/share/man"/* "$root/usr/share/groff"/* "$root/usr/share/info"/* \
           "$root/usr/share/lintian"/* "$root/usr/share/linda"/* "$root/var/cache/man"/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf "$root/var/lib/apt/lists"/* "$root/var/cache/apt"/*.bin \
           "$root/var/cache/apt/archives"/*.deb "$root/var/log"/*.log "$root/var/log/apt"/* \
           "$root/debootstrap"
    : >"$root/etc/resolv.conf"
    : >"$root/etc/hostname"
    : >"$root/etc/machine-id"
  ' sh "$root" || { $sudo rm -rf "$dir"; return 1; }
  # The fully qualified name, so that `FROM debian:bookworm-slim` finds it without a pull.
  $sudo tar --numeric-owner -C "$root" -c . |
    $sudo podman import --quiet --change 'CMD ["bash"]' - docker.io/library/$BASE >/dev/null
  local rc=$?
  $sudo rm -rf "$dir"
  return $rc
}

if [ "$ENGINE" = podman ] && ! engine image exists "docker.io/library/$BASE"; then
  t=$SECONDS
  make_base_image || abort "base image $BASE" "debootstrap or podman import failed (see above)"
  say "made $BASE in $((SECONDS - t)) s"
fi

# --- build ------------------------------------------------------------------------------------
t=$SECONDS
say "building $IMAGE"
if build >"/tmp/$NAME.build.log" 2>&1; then
  pass "image builds ($((SECONDS - t)) s)"
  rm -f "/tmp/$NAME.build.log"
else
  tail -40 "/tmp/$NAME.build.log"
  abort "image builds" "the build log is /tmp/$NAME.build.log"
fi
size=$(engine image inspect --format '{{.Size}}' "$IMAGE" 2>/dev/null || echo 0)
say "image size: $((size / 1000000)) MB ($size bytes)"

if [ $build_only -eq 1 ]; then
  say "built $IMAGE with $ENGINE"
  finish
fi

hc=$(engine image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null)
case "$hc" in
*--healthcheck*) pass "image declares HEALTHCHECK attnd --healthcheck" ;;
*) fail "image declares HEALTHCHECK attnd --healthcheck" "got: $hc" ;;
esac

# --- run --------------------------------------------------------------------------------------
# podman runs on the host's network (this host offers no other), so the daemon gets a free port
# through ATTND_PORT; Docker maps a free host port to the image's 8080. The port is drawn below
# the kernel's ephemeral range (32768+), where other programs' port-0 binds (a test suite running
# beside this one) cannot take it between this check and the container's bind.
port=$($PY -c '
import random, socket
for _ in range(500):
    p = random.randint(20000, 29999)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
    print(p)
    break')
limits=()
if [ "$ENGINE" = podman ]; then
  limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
  run_args=("${limits[@]}" --network=host -e "ATTND_PORT=$port")
else
  run_args=(-p "127.0.0.1:$port:8080")
fi
# (podman's complaints that it cannot reach systemd to schedule the HEALTHCHECK on a host
# without systemd are kept out of sight unless the start fails: the check is run on demand.)
# The same confinement as deploy/k8s/deployment.yaml's securityContext: a read-only root
# filesystem, no capabilities, no privilege escalation.
run_args+=(--read-only --cap-drop=ALL --security-opt=no-new-privileges)
# The test models, read-only at /models as the README shows (relabelled for the container where
# SELinux is enforcing, which is what :Z is for), loaded through ATTND_MODEL.
models_opt=ro
if command -v selinuxenabled >/dev/null && selinuxenabled; then models_opt=ro,Z; fi
run_args+=(-v "$PWD/tests/fixtures/models:/models:$models_opt" -e ATTND_MODEL=tiny=/models/tiny.safetensors)
if ! engine run -d --name "$NAME" "${run_args[@]}" -e ATTND_THREADS=2 "$IMAGE" \
  >/dev/null 2>"/tmp/$NAME.run.log"; then
  cat "/tmp/$NAME.run.log"
  rm -f "/tmp/$NAME.run.log"
  abort "container starts"
fi
rm -f "/tmp/$NAME.run.log"
url=http://127.0.0.1:$port

# The image's own HEALTHCHECK decides when it is up: podman runs it on demand; Docker runs it
# on its schedule (the first after --interval) and reports the state.
healthy=0
for _ in $(seq 1 60); do
  if [ "$(engine inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" != true ]; then
    break
  fi
  if [ "$ENGINE" = podman ]; then
    engine healthcheck run "$NAME" >/dev/null 2>&1 && { healthy=1; break; }
  else
    [ "$(engine inspect --format '{{.State.Health.Status}}' "$NAME")" = healthy ] && { healthy=1; break; }
  fi
  sleep 0.5
done
if [ $healthy -eq 1 ]; then
  pass "HEALTHCHECK passes"
else
  engine logs "$NAME" 2>&1 | tail -20
  abort "HEALTHCHECK passes" "the container did not become healthy within 30 s"
fi

# attnd --healthcheck itself, as the HEALTHCHECK runs it, and its failure on a closed port.
if engine exec "$NAME" attnd --healthcheck; then
  pass "attnd --healthcheck exits 0 inside the container"
else
  fail "attnd --healthcheck exits 0 inside the container"
fi
engine exec -e ATTND_PORT=1 "$NAME" attnd --healthcheck >/dev/null 2>&1
rc=$?
if [ $rc -eq 1 ]; then
  pass "attnd --healthcheck exits 1 on a closed port"
else
  fail "attnd --healthcheck exits 1 on a closed port" "exit status $rc"
fi

# The README's seq2seq example: C1 = 0.5·欢迎 + 0.3·来 + 0.2·北京.
body=$(curl -sS --max-time 10 "$url/v1/attention" -H 'Content-Type: application/json' \
  -d '{"query": [[1.0]], "key": [[1.6094379], [1.0986123], [0.6931472]], "value": [[1,0,0], [0,1,0], [0,0,1]], "score": "dot"}' 2>&1)
if msg=$(printf '%s' "$body" | $PY -c '
import json, sys
r = json.load(sys.stdin)
want = [0.5, 0.3, 0.2]
for field in ("weights", "context"):
    got = r[field][0]
    if len(got) != 3 or any(abs(g - w) > 1e-6 for g, w in zip(got, want)):
        sys.exit("%s %s, expected %s within 1e-6" % (field, got, want))
' 2>&1); then
  pass "POST /v1/attention gives weights and context 0.5/0.3/0.2"
else
  fail "POST /v1/attention gives weights and context 0.5/0.3/0.2" "$msg" "response: ${body:0:300}"
fi

# A case of the PyTorch fixture through the mounted model: cross-attention of "hello world" on
# the tokens 欢迎 来 北京, weights to 1e-5 and context to 1e-4 relative.
if msg=$($PY - "$url" <<'PYEOF' 2>&1
import json, sys, urllib.request
url = sys.argv[1]
cases = json.load(open("tests/fixtures/model_cases.json", encoding="utf-8"))["cases"]
case = next(c for c in cases if c["name"] == "cross_text_tokens")
body = dict(case["input"], source=case["source"], causal=case["causal"],
            average_heads=case["average_heads"], score=case["score"])
req = urllib.request.Request(url + "/v1/models/tiny/attention", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
got = json.load(urllib.request.urlopen(req, timeout=10))
want = case["expected"]
for key in ("tokens", "ids", "source_tokens", "source_ids"):
    if got[key] != want[key]:
        sys.exit("%s %s, expected %s" % (key, got[key], want[key]))
def flat(x):
    return [v for row in x for v in flat(row)] if isinstance(x, list) else [x]
for key, abs_tol, rel_tol in (("weights", 1e-5, 0), ("context", 1e-5, 1e-4)):
    g, w = flat(got[key]), flat(want[key])
    bad = [i for i, (a, b) in enumerate(zip(g, w)) if abs(a - b) > abs_tol + rel_tol * abs(b)]
    if len(g) != len(w) or bad:
        sys.exit("%s differs from PyTorch at %s" % (key, bad[:5] or "its size"))
if got["meta"]["model"] != "tiny" or got["meta"]["attention"] != "cross":
    sys.exit("meta %s" % got["meta"])
PYEOF
); then
  pass "POST /v1/models/tiny/attention (ATTND_MODEL, /models mount) matches PyTorch"
else
  engine logs "$NAME" 2>&1 | tail -5
  fail "POST /v1/models/tiny/attention (ATTND_MODEL, /models mount) matches PyTorch" "$msg"
fi

metrics=$(curl -sS --max-time 10 "$url/metrics" 2>&1)
if grep -q '^attnd_http_requests_total{route="/v1/attention",code="200"} 1$' <<<"$metrics" &&
  grep -q '^attnd_http_requests_total{route="/v1/models/{name}/attention",code="200"} 1$' \
    <<<"$metrics"; then
  pass "/metrics counts the requests in attnd_http_requests_total"
else
  fail "/metrics counts the requests in attnd_http_requests_total" \
    "$(grep attnd_http_requests_total <<<"$metrics" | head -5)"
fi
# The image runs the same binary and library, so it picks OpenBLAS kernels of this CPU's
# feature level by itself (the host's OPENBLAS_CORETYPE does not reach the container).
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
if has avx512f avx512bw avx512vl avx512dq avx512cd; then fits="SkylakeX Cooperlake SapphireRapids"
elif has avx2 fma; then fits="Haswell Zen"
elif has avx; then fits="Sandybridge Bulldozer Piledriver Steamroller"
else fits=""; fi
core=$(sed -n 's/^attnd_build_info{.*blas_core="\([^"]*\)".*/\1/p' <<<"$metrics")
if [ -n "$core" ] && { [ -z "$fits" ] || [[ " $fits " == *" $core "* ]]; }; then
  pass "the container runs OpenBLAS core $core, which fits this CPU"
else
  fail "the container runs an OpenBLAS core that fits this CPU ($fits)" \
    "$(grep attnd_build_info <<<"$metrics"; engine logs "$NAME" 2>&1 | grep 'msg=blas')"
fi
ready=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/readyz" 2>&1)
[ "$ready" = 200 ] && pass "/readyz is 200" || fail "/readyz is 200" "got $ready"

uid=$(engine exec "$NAME" id -u 2>&1)
if [ -n "$uid" ] && [ "$uid" != 0 ]; then
  pass "runs as non-root (uid $uid)"
else
  fail "runs as non-root" "id -u: $uid"
fi
# The image's own /models (seen without the mount), and the mount: readable, not writable.
models=$(engine run --rm "${limits[@]}" --entrypoint stat "$IMAGE" -c '%U %a' /models 2>/dev/null)
if [ "$models" = "root 755" ]; then
  pass "the image's /models exists, root-owned and readable"
else
  fail "the image's /models exists, root-owned and readable" "stat: $models"
fi
if engine exec "$NAME" ls /models/tiny.safetensors >/dev/null 2>&1 &&
  ! engine exec "$NAME" sh -c ': > /models/x' >/dev/null 2>&1; then
  pass "the mounted /models is readable and read-only"
else
  fail "the mounted /models is readable and read-only"
fi

# SIGTERM (what `docker stop` sends) drains and exits 0; attnd is PID 1 and handles it.
t=$SECONDS
engine stop -t 20 "$NAME" >/dev/null 2>&1
code=$(engine inspect --format '{{.State.ExitCode}}' "$NAME" 2>&1)
if [ "$code" = 0 ] && [ $((SECONDS - t)) -lt 15 ]; then
  pass "stop: SIGTERM exits 0 ($((SECONDS - t)) s)"
else
  engine logs "$NAME" 2>&1 | tail -10
  fail "stop: SIGTERM exits 0" "exit code $code after $((SECONDS - t)) s"
fi
if engine logs "$NAME" 2>&1 | tail -n 1 | grep -q 'msg=stopped'; then
  pass "the log ends with msg=stopped"
else
  fail "the log ends with msg=stopped"
fi
cleanup
if engine inspect "$NAME" >/dev/null 2>&1; then
  fail "container removed"
else
  pass "container removed"
fi

say "wall time $((SECONDS - t_start)) s"
finish
