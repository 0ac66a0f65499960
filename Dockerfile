# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies, then keep only what runs.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    STOWAGE_CONFIG=/etc/stowage/proxy.config.yaml \
    STOWAGE_STORAGE_PATH=/var/lib/stowage
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY proxy.config.yaml /etc/stowage/proxy.config.yaml
# The data directory is the only path Stowage writes to (temp files live inside it), so the
# container runs as a non-root user with a read-only root filesystem: docker run --read-only -v …
RUN mkdir -p /var/lib/stowage && chown node:node /var/lib/stowage
USER node
VOLUME ["/var/lib/stowage"]
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.STOWAGE_SERVER_PORT||5000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# --max-semi-space-size: see src/main.ts (a smaller young generation, ~25 MiB less peak RSS).
CMD ["node", "--max-semi-space-size=4", "dist/main.js"]
