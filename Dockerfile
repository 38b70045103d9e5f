# Trellis: the control plane (`trellis serve`, `trellis bootstrap`, ...) and,
# with another entrypoint, the demo app of examples/demo-app; docker-compose.yml
# uses it both ways. TypeScript runs through tsx (a runtime dependency), so
# there is no build step and dev dependencies stay out of the image.
#
#   docker build -t trellis:dev .
#   docker run --rm trellis:dev validate examples/demo
#   docker run --rm --entrypoint node trellis:dev --import tsx examples/demo-app/server.ts --name x --listen 0.0.0.0:18080
FROM node:20-slim

WORKDIR /opt/trellis
ENV NODE_ENV=production

COPY package.json package-lock.json ./
# npm ci refuses a lock file that lacks an entry it expects (e.g. platform
# packages of a dev-only dependency); install then resolves from the same lock.
RUN (npm ci --omit=dev --no-audit --no-fund --loglevel=error \
     || { echo 'npm ci refused package-lock.json; falling back to npm install --omit=dev' >&2; \
          npm install --omit=dev --no-audit --no-fund --loglevel=error; }) \
 && npm cache clean --force

# iptables: `trellis inject` runs this image as the init container that
# installs a sidecar's transparent redirect (docs/kubernetes.md).
# The RE2 checker (native/re2-check.cc): Trellis validates every regex with the
# RE2 library Envoy uses. Built here with g++ and libre2-dev, which are then
# removed; the runtime library (libre2-N) is kept.
COPY native ./native
COPY scripts/build-re2-check.sh ./scripts/
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables g++ libre2-dev \
 && bash scripts/build-re2-check.sh \
 && apt-mark manual $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'libre2-[0-9]*' | awk '/^ii/{print $2}') \
 && apt-get purge -y --auto-remove g++ libre2-dev \
 && rm -rf /var/lib/apt/lists/*

COPY bin ./bin
COPY protos ./protos
COPY src ./src
COPY examples ./examples

# /state (CA, token key) and /bootstrap are volumes in docker-compose.yml; a
# fresh named volume takes this ownership, so the unprivileged user can write.
RUN mkdir -p /state /bootstrap /mesh && chown node:node /state /bootstrap
USER node

EXPOSE 18000 19000
ENTRYPOINT ["node", "bin/trellis.js"]
CMD ["--help"]
