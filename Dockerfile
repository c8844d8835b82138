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
RUN pip install --no-cache-dir .
ENV LINLI_HOST=0.0.0.0 LINLI_PORT=8080 LINLI_DATA_DIR=/data
EXPOSE 8080
CMD ["linli", "serve"]
