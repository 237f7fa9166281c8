# attnd's container image. Two stages: the first builds build/attnd with Debian's -dev
# packages, the second runs it on bookworm-slim with only the shared libraries it loads.
#   docker build -t attnd .
#   docker run --rm -p 8080:8080 attnd
# Configured by the same ATTND_* variables as the daemon (attnd --help). Models mount at /models.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config libmicrohttpd-dev libcjson-dev libopenblas-dev xxd libutf8proc-dev \
      zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `make` reads: a change to tests/, deploy/ or the README does not rebuild.
COPY Makefile ./
COPY core core
COPY api api
COPY server server
# Compiled into the binary: the built-in trained model, and the script that embeds files.
COPY tools tools
COPY models/zh-en/zh-en.safetensors models/zh-en/vocab.txt models/zh-en/
RUN make -j"$(nproc)" build/attnd && ./build/attnd --version

FROM debian:bookworm-slim
# libopenblas0-pthread brings OpenBLAS with kernels for every x86-64 CPU, chosen at run time
# (attnd is built without -march=native); attnd pins it to one thread per worker.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libcjson1 libopenblas0-pthread libutf8proc2 zlib1g \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 attnd \
 && useradd --system --uid 10001 --gid attnd --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin attnd \
 && install -d -m 0755 -o root -g root /models
COPY --from=build /src/build/attnd /usr/local/bin/attnd

# Listen on every interface of the container; the port is what EXPOSE says. Every other option
# keeps the daemon's default and can be set with its ATTND_* variable at `docker run -e`.
ENV ATTND_HOST=0.0.0.0 \
    ATTND_PORT=8080
EXPOSE 8080
# Models are mounted read-only at /models (created root-owned above: the daemon only reads).
# No VOLUME: it would leave an anonymous volume behind every `docker run` without a mount.
# A numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# attnd --healthcheck asks the daemon's own /healthz (0.0.0.0 means loopback), so the image
# needs no curl: exit 0 on HTTP 200 within 2 s, else 1. It reads the ATTND_* environment, not
# the daemon's flags: set the port with ATTND_PORT, not --port, and serve HTTPS with
# ATTND_TLS_CERT and ATTND_TLS_KEY (then the probe speaks HTTPS too).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["attnd", "--healthcheck"]
ENTRYPOINT ["attnd"]
