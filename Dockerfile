# The console's ECharts, exactly as bot/console/package-lock.json pins it; only its prebuilt
# echarts.min.js goes into the image (served from bot/console/node_modules, as in a checkout).
FROM node:20-slim AS console
WORKDIR /console
COPY bot/console/package.json bot/console/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
# pg_dump/pg_restore for `linli backup` and `linli restore` (bookworm's 15, as the database);
# Noto CJK for the printed vote posters (PDF).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY models models
COPY config config
COPY locale locale
COPY --from=console /console/node_modules/echarts/dist/echarts.min.js \
    bot/console/node_modules/echarts/dist/echarts.min.js
RUN pip install --no-cache-dir .
ENV LINLI_HOST=0.0.0.0 LINLI_PORT=8080 LINLI_DATA_DIR=/data
EXPOSE 8080
CMD ["linli", "serve"]
