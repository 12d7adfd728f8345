# samlhub in a small Debian image, in two stages:
#
#   docker build -t samlhub .
#
# Build arguments (all optional):
#   BUILD_IMAGE    image of the build stage (default rust:1-bookworm)
#   RUNTIME_IMAGE  Debian base of the final image (default debian:bookworm-slim)
#   PREBUILT       path, inside the build context, of a samlhub binary already
#                  built for Debian bookworm. The build stage then only copies
#                  it, so BUILD_IMAGE may be any Debian image without Rust.
#                  The test suite packages the binary it built this way;
#                  users leave it unset and get a release build from source.
#
# The image runs as uid/gid 65532 with its data in the /data volume, which
# must be writable by that user (`chown -R 65532:65532 ./samlhub-data`).
# SAMLHUB_PUBLIC_URL must be set: inside a container the listen address is
# no URL anyone can reach, so the hub refuses to start without it.
ARG BUILD_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# Lets tests prune superseded build stages (only those) after a build.
LABEL org.samlhub.stage=build
ARG PREBUILT=
WORKDIR /src
COPY . .
RUN set -eu; \
    if [ -n "$PREBUILT" ]; then \
        install -m 0755 "$PREBUILT" /samlhub; \
    else \
        apt-get update; \
        apt-get install -y --no-install-recommends pkg-config libssl-dev; \
        rm -rf /var/lib/apt/lists/*; \
        cargo build --release --locked; \
        install -m 0755 target/release/samlhub /samlhub; \
    fi

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o 65532 -g 65532 -m 0700 /data
COPY scripts/healthcheck.sh /usr/local/bin/samlhub-healthcheck
COPY --from=build /samlhub /usr/local/bin/samlhub
USER 65532:65532
ENV SAMLHUB_DATA=/data SAMLHUB_LISTEN=0.0.0.0:8080 SAMLHUB_IN_CONTAINER=1
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["samlhub-healthcheck"]
ENTRYPOINT ["samlhub"]
CMD ["serve"]
