# One image, three roles: `serve`, `worker`, `all` (see docs/operations.md "Docker Compose").
# It runs the compiled JavaScript in dist/ (no TypeScript at run time): a build
# stage compiles src/, the image holds dist/ and the production dependencies.
FROM node:20-slim AS build

WORKDIR /app
# Dependencies first, so code changes do not reinstall them. postinstall runs
# `prisma generate` (through scripts/prisma.js), which needs the schema.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci
COPY src ./src
COPY tsconfig.json ./
# dist/, with the generated Prisma client compiled in.
RUN npm run build

FROM node:20-slim

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
