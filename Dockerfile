# One image for api, worker and migrate; they differ only in command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY . .
RUN pip install --no-cache-dir --constraint constraints.txt . \
    && useradd --system --uid 10001 faktura \
    && mkdir -p /var/lib/faktura/archive && chown faktura /var/lib/faktura/archive
USER faktura
EXPOSE 8000
CMD ["python", "worker.py"]
