FROM python:3.11-slim
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
