# One image for every part of the mesh (each service, its sidecar, the CLI); the command chooses which runs.
# Build from the repository root:  docker build -t grpc-mesh .

# The bundles every service and sidecar runs from (npm ci runs `prepare`, scripts/build.mjs) and the descriptor set
# that tells sidecars each method's idempotency: both need the development tools (esbuild, buf).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx buf build -o /app/image.binpb

# What runs: the build's outputs and the production dependencies (the bundles import MikroORM and pg by name; the
# CLI runs through tsx).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY . .
# No install scripts: `prepare` would build again, and the build is already done above.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && chown -R node:node /app
COPY --from=build --chown=node:node /app/image.binpb /app/image.binpb
COPY --from=build --chown=node:node /app/sidecar/dist sidecar/dist
COPY --from=build --chown=node:node /app/services/gateway/dist services/gateway/dist
COPY --from=build --chown=node:node /app/services/inventory/dist services/inventory/dist
COPY --from=build --chown=node:node /app/services/order/dist services/order/dist
COPY --from=build --chown=node:node /app/services/payment/dist services/payment/dist
COPY --from=build --chown=node:node /app/services/provider/dist services/provider/dist
USER node
EXPOSE 15000 15090
CMD ["node", "--max-semi-space-size=4", "sidecar/bin/mesh-sidecar.js", "--help"]
