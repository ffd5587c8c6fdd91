# One image, three roles: `serve`, `worker`, `all` (see docs/operations.md "Docker Compose").
# It runs the compiled JavaScript in dist/ (no TypeScript at run time): a build
# stage compiles src/, the image holds dist/ and the production dependencies.
# Node.js 24, an LTS line and the one the README recommends (the broker runs on 20.14 or later, as package.json says).
FROM node:24-slim AS build

WORKDIR /app
# Dependencies first, so code changes do not reinstall them. No install
# scripts here: this project's own (postinstall: prisma generate; prepare:
# the build) need src/, which comes later, and no dependency's is needed.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --ignore-scripts
COPY src ./src
COPY tsconfig.json ./
# The Prisma client (generated into src/generated), then dist/ with it compiled in.
RUN node scripts/prisma.js generate
RUN npm run build

FROM node:24-slim

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

# No install scripts: the Prisma client is in dist/ already, and `migrate`
# runs the Prisma CLI through scripts/prisma.js, which needs no engine download.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY connectors ./connectors

USER node
EXPOSE 3000
ENTRYPOINT ["node", "bin/authbroker.js"]
CMD ["serve"]
