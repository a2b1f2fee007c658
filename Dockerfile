# One image for every part of the mesh (each service, its sidecar, the CLI); the command chooses which runs.
# Build from the repository root:  docker build -t grpc-mesh .
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY . .
# The install builds the sidecar bundle (prepare); the descriptor set tells sidecars each method's idempotency.
RUN npm ci --no-audit --no-fund \
 && npx buf build -o /app/image.binpb \
 && chown -R node:node /app
USER node
EXPOSE 15000 15090
CMD ["node", "--max-semi-space-size=4", "sidecar/bin/mesh-sidecar.js", "--help"]
