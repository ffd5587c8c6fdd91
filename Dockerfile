# One image, three roles: `serve`, `worker`, `all` (see docs/operations.md "Docker Compose").
# TypeScript runs through tsx (a dependency), so there is no build stage.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

# Dependencies first, so code changes do not reinstall them. postinstall runs
# `prisma generate` (through scripts/prisma.js), which needs the schema.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --omit=dev && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY connectors ./connectors
COPY tsconfig.json ./

USER node
EXPOSE 3000
ENTRYPOINT ["node", "bin/authbroker.js"]
CMD ["serve"]
