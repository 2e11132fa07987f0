# The Nurture image: one installable project; the compose file runs it as worker (and later api).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY nurture ./nurture
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py starter.py ./
COPY package-lock.json ./
COPY scripts/vendor_js.py ./scripts/
RUN python scripts/vendor_js.py && pip install --no-cache-dir .
COPY scenarios ./scenarios
ENV NURTURE_SCENARIOS_DIR=/app/scenarios
CMD ["python", "worker.py"]
